"""Write the demos' generated datasets.

Usage: python tools/misc/make_demo_data.py
           [--task segmentation|classification|cityscapes|coco] [--root DIR]
           [--num-train N] [--num-val N] [--size S] [--seed S]

segmentation: the shapes set in ADE20K layout (default root
data/lkmm_shapes); classification: the 8-class shapes set in ImageNet folder
layout (default root data/lkmm_shapes_cls); cityscapes: synthetic street
scenes in Cityscapes layout (default root data/lkmm_shapes_cityscapes);
coco: shapes instance segmentation in COCO format (default root
data/lkmm_shapes_coco).
"""
import argparse

from lkmm.datasets import (
    make_shapes_cityscapes,
    make_shapes_classification,
    make_shapes_coco,
    make_shapes_segmentation,
)

DEFAULT_ROOTS = dict(segmentation='data/lkmm_shapes',
                     classification='data/lkmm_shapes_cls',
                     cityscapes='data/lkmm_shapes_cityscapes',
                     coco='data/lkmm_shapes_coco')
# Per task: the generator, default training / validation counts and size.
GENERATORS = dict(segmentation=(make_shapes_segmentation, 96, 24, 64),
                  classification=(make_shapes_classification, 24, 8, 64),
                  cityscapes=(make_shapes_cityscapes, 48, 12, (64, 128)),
                  coco=(make_shapes_coco, 64, 16, 96))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--task', choices=sorted(DEFAULT_ROOTS),
                        default='segmentation')
    parser.add_argument('--root', help='output folder (default: per task)')
    parser.add_argument('--num-train', type=int, default=None,
                        help='training images (classification: per class; '
                        'default 96 segmentation, 24 classification, '
                        '48 cityscapes, 64 coco)')
    parser.add_argument('--num-val', type=int, default=None,
                        help='validation images (classification: per class; '
                        'default 24 segmentation, 8 classification, '
                        '12 cityscapes, 16 coco)')
    parser.add_argument('--size', type=int, nargs='+', default=None,
                        metavar='S',
                        help='image side, or H W for cityscapes and coco '
                        '(default 64; cityscapes 64 128; coco 96)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    make, num_train, num_val, size = GENERATORS[args.task]
    if args.size is not None:
        if len(args.size) == 1:
            size = args.size[0]
        elif len(args.size) == 2 and args.task in ('cityscapes', 'coco'):
            size = tuple(args.size)
        else:
            parser.error(f'--size takes one value for --task {args.task}'
                         if args.task in ('segmentation', 'classification')
                         else '--size takes one or two values')
    root = make(args.root or DEFAULT_ROOTS[args.task], args.num_train
                or num_train, args.num_val or num_val, size, args.seed)
    print(f'{args.task} demo dataset ready in {root}')


if __name__ == '__main__':
    main()
