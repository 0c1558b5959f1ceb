"""Evaluate a checkpoint. Usage: python tools/test.py CONFIG CHECKPOINT

See ``python tools/test.py -h``; the logic lives in :mod:`lkmm.cli.launch`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.launch import test_main

if __name__ == '__main__':
    sys.exit(test_main())
