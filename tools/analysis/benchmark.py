"""Inference speed, training structure vs deployed (re-parameterized) form.

Usage: python tools/analysis/benchmark.py CONFIG [--checkpoint CKPT]
           [--shape H W] [--batch-size N] [--warmup N] [--iters N]
           [--device cpu|cuda] [--threads N] [--cfg-options ...]

See ``-h``; the logic lives in :mod:`lkmm.analysis.benchmark`.
"""
import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.analysis.benchmark import benchmark_main

if __name__ == '__main__':
    benchmark_main()
