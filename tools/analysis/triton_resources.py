"""Registers, spills, shared memory and useful work of every tile config of
lkmm's Triton depth-wise kernels, compiled for sm_90 (no GPU needed).

Usage: python tools/analysis/triton_resources.py [--dtypes fp32,bf16]
           [--out rows.json]

See ``-h``; the logic lives in :mod:`lkmm.cli.triton_resources`.
"""
import sys

from lkmm.cli.triton_resources import triton_resources_main

if __name__ == '__main__':
    sys.exit(triton_resources_main())
