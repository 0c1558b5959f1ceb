"""See ``python tools/analysis/analyze_erf.py -h``; the logic lives in
:mod:`lkmm.cli.analyze_erf`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.analyze_erf import analyze_erf_main

if __name__ == '__main__':
    sys.exit(analyze_erf_main())
