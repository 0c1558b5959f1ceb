"""Params and FLOPs of a config's model.

Usage: python tools/analysis/get_flops.py CONFIG [--shape H W]
See ``-h``; the logic lives in :mod:`lkmm.cli.get_flops`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm)
from lkmm.cli.get_flops import get_flops_main

if __name__ == '__main__':
    sys.exit(get_flops_main())
