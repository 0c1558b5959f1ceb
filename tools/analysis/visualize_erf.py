"""See ``python tools/analysis/visualize_erf.py -h``; the logic lives in
:mod:`lkmm.cli.visualize_erf`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.visualize_erf import visualize_erf_main

if __name__ == '__main__':
    sys.exit(visualize_erf_main())
