"""Depth-wise KxK convolution speed, torch vs lkmm (RepLKNet Table 1 layout).

Usage: python tools/analysis/benchmark_dwconv.py [--kernels 3,5,...,31]
           [--resolutions 16,32,64] [--batch N] [--channels C] [--layers L]
           [--modes forward,forward_backward] [--device cpu|cuda]
           [--dtype fp32|bf16|fp16] [--reps N] [--out cells.json]

See ``-h``; the logic lives in :mod:`lkmm.cli.benchmark_dwconv`.
"""
import sys

from lkmm.cli.benchmark_dwconv import benchmark_dwconv_main

if __name__ == '__main__':
    sys.exit(benchmark_dwconv_main())
