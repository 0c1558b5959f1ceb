"""Model speed: training structure vs deployed (re-parameterized) form,
nn.Conv2d vs lkmm depth-wise convolutions (``--compare dwconv``), or two
models side by side (``--against OTHER_CONFIG`` or ``--against timm:NAME``).

Usage: python tools/analysis/benchmark.py CONFIG [--checkpoint CKPT]
           [--shape H W] [--batch-size N] [--warmup N] [--iters N]
           [--compare deploy|dwconv] [--dwconv-mode train|deploy]
           [--against OTHER_CONFIG|timm:NAME]
           [--device cpu|cuda] [--threads N] [--cfg-options ...]

See ``-h``; the logic lives in :mod:`lkmm.cli.benchmark`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.benchmark import benchmark_main

if __name__ == '__main__':
    sys.exit(benchmark_main())
