"""Convert a foreign checkpoint of any lkmm family (RepLKNet official /
mmpretrain, SLaK, ParCNetV2 releases) into lkmm's layout: ``convert.py SRC
DST [--family auto|NAME] [--target classifier|backbone]``, options in
``-h``. A thin entry point; the logic lives in :mod:`lkmm.cli.convert`, each
family's key mapping beside its backbone in ``lkmm/models/backbones/``.
"""
import sys

from lkmm.cli.convert import convert_main

if __name__ == '__main__':
    sys.exit(convert_main())
