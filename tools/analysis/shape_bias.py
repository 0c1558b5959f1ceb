"""See ``python tools/analysis/shape_bias.py -h``; the logic lives in
:mod:`lkmm.cli.shape_bias` and :mod:`lkmm.analysis.shape_bias`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.shape_bias import shape_bias_main

if __name__ == '__main__':
    sys.exit(shape_bias_main())
