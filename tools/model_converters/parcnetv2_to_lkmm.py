"""Convert a released ParCNetV2 checkpoint (XuRuihan/ParCNetV2: the
ImageNet model, or its mmseg/mmdet backbone) into lkmm's layout for
``arch='release-*'``: ``parcnetv2_to_lkmm.py SRC DST [--target
classifier|backbone] [--ema] [--allow-missing]``, options in ``-h``. A thin
entry point; the logic lives in :mod:`lkmm.cli.convert`, the key mapping
and its documentation in :mod:`lkmm.models.backbones.parcnetv2_checkpoint`.
"""
import sys

from lkmm.cli.convert import parcnetv2_to_lkmm_main

if __name__ == '__main__':
    sys.exit(parcnetv2_to_lkmm_main())
