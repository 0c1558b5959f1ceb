"""Deploy a trained checkpoint's re-parameterizable branches for deployment.

Usage: python tools/deploy/reparameterize.py CONFIG CKPT OUT
           [--out-config PATH] [--shape H W] [--device cpu|cuda]
           [--cfg-options ...]

Writes OUT (checkpoint) and OUT with a ``.py`` suffix (config), checked to
reproduce the trained model's outputs. See ``-h``; the logic lives in
:mod:`lkmm.cli.reparameterize`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.reparameterize import reparameterize_main

if __name__ == '__main__':
    sys.exit(reparameterize_main())
