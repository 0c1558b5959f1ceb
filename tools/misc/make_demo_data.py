"""Write the demos' generated datasets.

Usage: python tools/misc/make_demo_data.py [--task segmentation|classification]
                                          [--root DIR]

segmentation: the shapes set in ADE20K layout (default root
data/lkmm_shapes); classification: the 8-class shapes set in ImageNet folder
layout (default root data/lkmm_shapes_cls).
"""
import argparse

from lkmm.datasets import make_shapes_classification, make_shapes_segmentation

DEFAULT_ROOTS = dict(segmentation='data/lkmm_shapes',
                     classification='data/lkmm_shapes_cls')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', choices=sorted(DEFAULT_ROOTS),
                        default='segmentation')
    parser.add_argument('--root', help='output folder (default: per task)')
    parser.add_argument('--num-train', type=int, default=None,
                        help='training images (segmentation: total, '
                        'default 96; classification: per class, default 24)')
    parser.add_argument('--num-val', type=int, default=None,
                        help='validation images (segmentation: total, '
                        'default 24; classification: per class, default 8)')
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    root = args.root or DEFAULT_ROOTS[args.task]
    if args.task == 'segmentation':
        root = make_shapes_segmentation(
            root, args.num_train or 96, args.num_val or 24, args.size,
            args.seed)
    else:
        root = make_shapes_classification(
            root, args.num_train or 24, args.num_val or 8, args.size,
            args.seed)
    print(f'{args.task} demo dataset ready in {root}')


if __name__ == '__main__':
    main()
