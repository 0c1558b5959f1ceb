"""Convert an official (DingXiaoH/RepLKNet-pytorch) or mmpretrain RepLKNet
checkpoint into lkmm's layout: ``replknet_to_lkmm.py SRC DST [--target
classifier|backbone]``, options in ``-h``. A thin entry point; the logic and
its documentation (targets and their key layouts, how to load DST, exit
status) live in :mod:`lkmm.cli.convert`.
"""
import sys

from lkmm.cli.convert import replknet_to_lkmm_main

if __name__ == '__main__':
    sys.exit(replknet_to_lkmm_main())
