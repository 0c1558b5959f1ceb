"""Oversized-convolution speed, F.conv2d vs lkmm's op vs 1-D FFT, per
ParCNetV2 stage (global channels) at several input resolutions.

Usage: python tools/analysis/benchmark_oversized_conv.py [--arch 26m]
           [--resolutions 224,512,1024] [--batch N]
           [--mode forward|forward_backward] [--reps N] [--device cpu|cuda]
           [--out cells.json]

See ``-h``; the logic lives in :mod:`lkmm.cli.benchmark_oversized_conv`.
"""
import sys

from lkmm.cli.benchmark_oversized_conv import benchmark_oversized_conv_main

if __name__ == '__main__':
    sys.exit(benchmark_oversized_conv_main())
