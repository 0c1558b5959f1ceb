"""Convert an official or mmpretrain RepLKNet checkpoint into lkmm's layout.

Usage::

    python tools/model_converters/replknet_to_lkmm.py SRC DST \
        [--target classifier|backbone] [--format auto|official|mmpretrain]

The source is read with :func:`lkmm.utils.checkpoint.safe_load` (never runs
pickled code). The converted weights are verified by building the inferred
lkmm model and loading them with ``strict=True``, then written atomically
in mmengine format (``{'state_dict': ..., 'meta': ...}``); on any error DST
is left untouched.

* ``--target classifier`` (default): mmpretrain ``ImageClassifier`` keys
  (``backbone.*``, ``head.fc.*``). Use DST as ``load_from`` of a
  classification config with ``backbone=dict(type='lkmm.RepLKNet',
  final_norm=True, ...)``, or downstream with
  ``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
* ``--target backbone``: bare ``lkmm.RepLKNet`` keys (the head is dropped);
  use ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` without prefix.

Exit status: 0 on success; 1 when the input cannot be read or converted,
or when source keys could not be mapped or target keys are missing (unless
``--allow-missing``).
"""
import sys

from lkmm.apis.convert import replknet_to_lkmm_main

if __name__ == '__main__':
    sys.exit(replknet_to_lkmm_main())
