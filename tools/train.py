"""Train a model from a config. Usage: python tools/train.py CONFIG [options]

See ``python tools/train.py -h``; the logic lives in :mod:`lkmm.cli.launch`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.launch import train_main

if __name__ == '__main__':
    sys.exit(train_main())
