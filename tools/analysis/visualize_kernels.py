"""See ``python tools/analysis/visualize_kernels.py -h``; the logic lives in
:mod:`lkmm.cli.visualize_kernels` and :mod:`lkmm.analysis.kernels`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.visualize_kernels import visualize_kernels_main

if __name__ == '__main__':
    sys.exit(visualize_kernels_main())
