"""Write the demo's generated segmentation set (ADE20K layout).

Usage: python tools/misc/make_demo_data.py [--root data/lkmm_shapes]
"""
import argparse

from lkmm.datasets import make_shapes_segmentation


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default='data/lkmm_shapes')
    parser.add_argument('--num-train', type=int, default=96)
    parser.add_argument('--num-val', type=int, default=24)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    root = make_shapes_segmentation(args.root, args.num_train, args.num_val,
                                    args.size, args.seed)
    print(f'demo dataset ready in {root}')


if __name__ == '__main__':
    main()
