"""See ``python tools/analysis/analyze_erf.py -h``; the logic lives in
:mod:`lkmm.cli.analyze_erf`.
"""
import lkmm  # noqa: F401  (registers lkmm, safe checkpoint loading)
from lkmm.cli.analyze_erf import analyze_erf_main

if __name__ == '__main__':
    analyze_erf_main()
