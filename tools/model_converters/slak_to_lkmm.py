"""Convert a released SLaK checkpoint (VITA-Group/SLaK: the ImageNet model,
or its mmseg/mmdet backbone) into lkmm's layout for
``lkmm.LargeKernelConvNeXt`` (``arch='slak-*'``, form ``'stripe'``):
``slak_to_lkmm.py SRC DST [--target classifier|backbone] [--ema]
[--allow-missing] [--safetensors]``, options in ``-h``. A thin entry point;
the logic lives in :mod:`lkmm.cli.convert`, the key mapping and its
documentation in :mod:`lkmm.models.backbones.large_kernel_convnext_checkpoint`.
"""
import sys

from lkmm.cli.convert import slak_to_lkmm_main

if __name__ == '__main__':
    sys.exit(slak_to_lkmm_main())
