"""Parameters against kernel size, dense vs stripe vs peripheral (PeLK
Fig. 6): ConvNeXt-T with every stage kernel set to K, each real model built
and counted.

Usage: python tools/analysis/kernel_scaling.py [CONFIG]
           [--kernels 7,11,...,151]
           [--forms dense,stripe,peripheral,peripheral+pe]
           [--centre-size N] [--out PLOT.png] [--json COUNTS.json]
           [--cfg-options ...]

See ``-h``; the logic lives in :mod:`lkmm.cli.kernel_scaling`.
"""
import sys

import lkmm  # noqa: F401  (registers lkmm)
from lkmm.cli.kernel_scaling import kernel_scaling_main

if __name__ == '__main__':
    sys.exit(kernel_scaling_main())
