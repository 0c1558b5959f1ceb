"""``tools/model_converters/replknet_to_lkmm.py`` (the key mapping is
:mod:`lkmm.models.converters.replknet`).

Usage::

    python tools/model_converters/replknet_to_lkmm.py SRC DST \
        [--target classifier|backbone] [--format auto|official|mmpretrain|lkmm]

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

* ``--safetensors`` (implied by a DST ending in ``.safetensors``): write
  the state dict as a safetensors file instead, the meta dict JSON-encoded
  in its metadata (``lkmm_meta``); lkmm's checkpoint loading
  (:mod:`lkmm.utils.checkpoint`) reads it back for ``load_checkpoint``,
  ``load_from`` and ``init_cfg=dict(type='Pretrained', ...)``.

Exit status: 0 on success; 1 when the input cannot be read or converted,
or when source keys could not be mapped or target keys are missing (unless
``--allow-missing``).

The module also holds
``tools/model_converters/parcnetv2_to_lkmm.py``
(:func:`parcnetv2_to_lkmm_main`; see :mod:`lkmm.models.converters.parcnetv2`
for the layouts and targets) and ``tools/model_converters/slak_to_lkmm.py``
(:func:`slak_to_lkmm_main`; :mod:`lkmm.models.converters.slak`), with the
same reading, verification, report, ``--allow-missing``, ``--safetensors``
and atomic writing.
"""
import argparse
import os.path as osp
import re
import sys
import time

import lkmm
from lkmm.models.converters import (
    PARCNETV2_FORMATS,
    PARCNETV2_TARGETS,
    REPLKNET_FORMATS,
    SLAK_FORMATS,
    SLAK_TARGETS,
    build_parcnetv2_model,
    build_replknet_model,
    build_slak_model,
    check_against_model,
    compare_state_dict_with_model,
    convert_parcnetv2_state_dict,
    convert_replknet_state_dict,
    convert_slak_state_dict,
    head_num_classes,
    infer_parcnetv2_kwargs,
    infer_replknet_kwargs,
    infer_slak_kwargs,
)
from lkmm.utils.checkpoint import (
    UnsafeCheckpointError,
    safe_load,
    save_safetensors_checkpoint,
)
from lkmm.utils.fileio import atomic_torch_save
from lkmm.utils.pretrained import checkpoint_file_problem


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official (DingXiaoH/RepLKNet-pytorch) or '
        'mmpretrain RepLKNet checkpoint into an lkmm checkpoint')
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (mmengine format)')
    parser.add_argument(
        '--target', choices=['classifier', 'backbone'], default='classifier',
        help='classifier: ImageClassifier keys backbone.* and head.fc.* '
        '(downstream: Pretrained init with prefix="backbone."); backbone: '
        'bare lkmm.RepLKNet keys, head dropped (default: classifier)')
    parser.add_argument(
        '--format', choices=('auto', ) + REPLKNET_FORMATS, default='auto',
        help='source layout (default: detect it)')
    parser.add_argument(
        '--allow-missing', action='store_true',
        help='write the output even if source keys could not be mapped '
        '(they are dropped) or target keys are missing (e.g. no head)')
    _add_safetensors_option(parser)
    return parser.parse_args(argv)


def _add_safetensors_option(parser):
    parser.add_argument(
        '--safetensors', action='store_true',
        help='write DST as a .safetensors file (the state dict, with the '
        'meta dict JSON-encoded in its metadata) instead of a torch '
        'checkpoint; implied when DST ends with .safetensors')


def _wants_safetensors(args) -> bool:
    return bool(getattr(args, 'safetensors', False)) or \
        str(args.dst).endswith('.safetensors')


def _print_keys(title, keys):
    print(f'{title} ({len(keys)}):')
    for key in keys:
        print(f'  {key}')


def _short(err):
    """One informative line of a torch.load error."""
    text = str(err)
    # torch's weights_only failures start with a long generic preamble.
    match = re.search(r'WeightsUnpickler error:\s*(\S.*)', text)
    line = match.group(1) if match else text.strip().split('\n')[0]
    return f'{type(err).__name__}: {line}' if line else type(err).__name__


def _load_source(path):
    """The source checkpoint, read safely; ValueError when unreadable."""
    if not osp.isfile(path):
        raise ValueError(f'source checkpoint not found: {path}')
    problem = checkpoint_file_problem(path)
    if problem:
        raise ValueError(problem)
    try:
        return safe_load(path, map_location='cpu')
    except UnsafeCheckpointError:
        raise  # its own message says what was refused and what to do
    except Exception as err:
        # Corrupt, truncated or non-torch files fail in many ways inside
        # torch.load (UnpicklingError, RuntimeError, EOFError, KeyError..).
        raise ValueError(
            f'cannot read {path} as a PyTorch checkpoint (corrupt, '
            f'truncated or not a checkpoint): {_short(err)}') from None


def convert(args):
    """Load, convert, verify and save; returns the exit status."""
    checkpoint = _load_source(args.src)
    src_format = None if args.format == 'auto' else args.format
    state_dict, report = convert_replknet_state_dict(
        checkpoint, src_format=src_format, target=args.target)
    kwargs = infer_replknet_kwargs(state_dict)
    num_classes = head_num_classes(state_dict)
    print(f'source format: {report.src_format}, target: {args.target}')
    print(f'inferred lkmm.RepLKNet kwargs: {kwargs}')
    if args.target == 'classifier':
        print(f'head: {num_classes} classes' if num_classes else 'head: none')
    print(f'converted tensors: {report.num_tensors}')

    model = build_replknet_model(kwargs, args.target, num_classes)
    missing, report.unexpected, report.mismatched = \
        compare_state_dict_with_model(state_dict, model)
    report.missing = list(dict.fromkeys(report.missing + missing))
    if report.dropped:
        _print_keys('dropped source keys (not part of the target)',
                    report.dropped)
    if report.filled:
        print(f'filled {len(report.filled)} missing BN num_batches_tracked '
              'with 0')
    for name in ('unknown', 'missing', 'unexpected', 'mismatched'):
        if getattr(report, name):
            _print_keys(f'{name} keys', getattr(report, name))
    del checkpoint  # large models: keep only one copy of the weights
    return _verify_and_save(
        model, state_dict, report, args,
        dict(converted_by='tools/model_converters/replknet_to_lkmm.py',
             replknet_kwargs=kwargs, num_classes=num_classes))


def _verify_and_save(model, state_dict, report, args, meta) -> int:
    """Refuse weights that do not fit or are incomplete (unless
    ``--allow-missing``), load them into ``model`` as the real check, then
    write ``args.dst`` atomically with ``meta``; returns the exit status."""
    if report.unexpected or getattr(report, 'mismatched', None):
        print('error: the converted weights do not fit the inferred model',
              file=sys.stderr)
        return 1
    if (report.unknown or report.missing) and not args.allow_missing:
        print('error: conversion is incomplete (see the keys above); pass '
              '--allow-missing to write it anyway', file=sys.stderr)
        return 1
    # The real check: the inferred model accepts every tensor as is.
    model.load_state_dict(state_dict, strict=not report.missing)
    print('verified: the inferred lkmm model loads the weights '
          f'(strict={not report.missing})')
    meta = dict(meta, lkmm_version=lkmm.__version__,
                source=osp.basename(args.src),
                source_format=report.src_format, target=args.target,
                time=time.strftime('%Y-%m-%d %H:%M:%S'))
    if _wants_safetensors(args):
        save_safetensors_checkpoint(state_dict, args.dst, meta)
        print(f'saved {args.dst} (safetensors)')
    else:
        atomic_torch_save(dict(state_dict=state_dict, meta=meta), args.dst)
        print(f'saved {args.dst}')
    return 0


def _check_report_and_save(model, state_dict, report, args, family: str,
                           kwargs: dict, num_classes) -> int:
    """The released-layout converters' tail (ParCNetV2, SLaK): check the
    shapes against ``model``, print the key report, then
    :func:`_verify_and_save` with the meta both record."""
    check_against_model(state_dict, report, model)  # raises on shapes
    print(f'matched source keys: {len(report.matched)} -> '
          f'{report.num_tensors} tensors')
    if report.reshaped:
        _print_keys('reshaped (release layout -> lkmm layout)',
                    report.reshaped)
    if report.dropped:
        _print_keys('dropped source keys (not part of the target)',
                    report.dropped)
    if report.filled:
        print(f'filled {len(report.filled)} missing BN num_batches_tracked '
              'with 0')
    _print_keys('unexpected source keys (not used)', report.unknown)
    _print_keys('missing lkmm keys (not filled)', report.missing)
    if report.unexpected:
        _print_keys('converted keys the model does not have',
                    report.unexpected)
    for note in report.notes:
        print(f'note: {note}')
    return _verify_and_save(
        model, state_dict, report, args,
        {'converted_by': f'tools/model_converters/{family}_to_lkmm.py',
         'ema': args.ema, f'{family}_kwargs': kwargs,
         'num_classes': num_classes, 'unknown_source_keys': report.unknown,
         'missing_keys': report.missing})


def _run(parse, convert_fn, argv) -> int:
    """A converter tool's main: expected failures get one clear line, not a
    traceback; returns the exit status."""
    args = parse(argv)
    try:
        return convert_fn(args)
    except (ValueError, UnsafeCheckpointError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1


def replknet_to_lkmm_main(argv=None) -> int:
    """``tools/model_converters/replknet_to_lkmm.py``; returns the exit
    status."""
    return _run(parse_args, convert, argv)


# --- ParCNetV2 (tools/model_converters/parcnetv2_to_lkmm.py) ---------------


def parse_parcnetv2_args(argv=None):
    """Arguments of ``tools/model_converters/parcnetv2_to_lkmm.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``src``, ``dst``, ``target``, ``format``,
        ``ema``, ``allow_missing`` and ``safetensors``.
    """
    parser = argparse.ArgumentParser(
        description='Convert a released ParCNetV2 checkpoint '
        '(XuRuihan/ParCNetV2: ImageNet model, or its mmseg/mmdet backbone) '
        "into an lkmm checkpoint for arch='release-*'")
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (mmengine format)')
    parser.add_argument(
        '--target', choices=PARCNETV2_TARGETS, default='classifier',
        help='classifier: ImageClassifier keys backbone.* and head.fc.* '
        '(downstream: Pretrained init with prefix="backbone."); backbone: '
        'bare lkmm.ParCNetV2 keys, head dropped (default: classifier)')
    parser.add_argument(
        '--format', choices=('auto', ) + PARCNETV2_FORMATS, default='auto',
        help='source layout: classification (models/parcnetv2.py) or dense '
        '(the mmseg/mmdet backbone) (default: detect it)')
    parser.add_argument(
        '--ema', action='store_true',
        help="convert timm's EMA weights (state_dict_ema)")
    parser.add_argument(
        '--allow-missing', action='store_true',
        help='write the output even if source keys could not be mapped '
        '(they are dropped) or target keys are missing (e.g. no head)')
    _add_safetensors_option(parser)
    return parser.parse_args(argv)


def convert_parcnetv2(args):
    """Load, convert, verify and save a ParCNetV2 checkpoint.

    Args:
        args (argparse.Namespace): From :func:`parse_parcnetv2_args`.

    Returns:
        int: The exit status (0: written; 1: incomplete or not fitting).
    """
    checkpoint = _load_source(args.src)
    src_format = None if args.format == 'auto' else args.format
    # Checked below against the model built here (built once).
    state_dict, report = convert_parcnetv2_state_dict(
        checkpoint, src_format=src_format, target=args.target,
        use_ema=args.ema, check=False)
    dense = report.src_format == 'dense' and args.target == 'backbone'
    kwargs = infer_parcnetv2_kwargs(state_dict, dense=dense)
    num_classes = head_num_classes(state_dict)
    print(f'source format: {report.src_format}, target: {args.target}'
          + (' (EMA weights)' if args.ema else ''))
    print(f'inferred lkmm.ParCNetV2 kwargs: {kwargs}')
    if args.target == 'classifier':
        print(f'head: {num_classes} classes' if num_classes else 'head: none')
    model = build_parcnetv2_model(kwargs, args.target, num_classes)
    del checkpoint
    return _check_report_and_save(model, state_dict, report, args,
                                  'parcnetv2', kwargs, num_classes)


def parcnetv2_to_lkmm_main(argv=None) -> int:
    """``tools/model_converters/parcnetv2_to_lkmm.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status: 0 on success; 1 when the input cannot be read
        or converted, shapes do not fit, or source keys are unused / lkmm
        keys missing (unless ``--allow-missing``).
    """
    return _run(parse_parcnetv2_args, convert_parcnetv2, argv)


# --- SLaK (tools/model_converters/slak_to_lkmm.py) -------------------------


def parse_slak_args(argv=None):
    """Arguments of ``tools/model_converters/slak_to_lkmm.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``src``, ``dst``, ``target``, ``format``,
        ``ema``, ``allow_missing`` and ``safetensors``.
    """
    parser = argparse.ArgumentParser(
        description='Convert a released SLaK checkpoint (VITA-Group/SLaK: '
        'ImageNet model, or its mmseg/mmdet backbone) into an lkmm '
        "checkpoint for lkmm.LargeKernelConvNeXt (arch='slak-*', form "
        "'stripe')")
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (mmengine format, '
                        'or .safetensors)')
    parser.add_argument(
        '--target', choices=SLAK_TARGETS, default='classifier',
        help='classifier: ImageClassifier keys backbone.* and head.fc.* '
        '(downstream: Pretrained init with prefix="backbone."); backbone: '
        'bare lkmm.LargeKernelConvNeXt keys, head dropped (default: '
        'classifier; a mmseg/mmdet checkpoint needs backbone)')
    parser.add_argument(
        '--format', choices=('auto', ) + SLAK_FORMATS, default='auto',
        help='source layout: classification (models/SLaK.py) or dense '
        '(the mmseg/mmdet backbone) (default: detect it)')
    parser.add_argument(
        '--ema', action='store_true',
        help='convert the EMA weights (model_ema) instead of model')
    parser.add_argument(
        '--allow-missing', action='store_true',
        help='write the output even if source keys could not be mapped '
        '(they are dropped) or target keys are missing (e.g. no head)')
    _add_safetensors_option(parser)
    return parser.parse_args(argv)


def convert_slak(args):
    """Load, convert, verify and save a SLaK checkpoint.

    Args:
        args (argparse.Namespace): From :func:`parse_slak_args`.

    Returns:
        int: The exit status (0: written; 1: incomplete or not fitting).
    """
    checkpoint = _load_source(args.src)
    src_format = None if args.format == 'auto' else args.format
    state_dict, report = convert_slak_state_dict(
        checkpoint, src_format=src_format, target=args.target,
        use_ema=args.ema, check=False)
    kwargs = infer_slak_kwargs(state_dict,
                               dense=report.src_format == 'dense')
    num_classes = head_num_classes(state_dict)
    print(f'source format: {report.src_format}, target: {args.target}'
          + (' (EMA weights)' if args.ema else ''))
    print(f'inferred lkmm.LargeKernelConvNeXt kwargs: {kwargs}')
    if args.target == 'classifier':
        print(f'head: {num_classes} classes' if num_classes else 'head: none')
    model = build_slak_model(kwargs, args.target, num_classes)
    del checkpoint
    return _check_report_and_save(model, state_dict, report, args, 'slak',
                                  kwargs, num_classes)


def slak_to_lkmm_main(argv=None) -> int:
    """``tools/model_converters/slak_to_lkmm.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status: 0 on success; 1 when the input cannot be read
        or converted, shapes do not fit, or source keys are unused / lkmm
        keys missing (unless ``--allow-missing``).
    """
    return _run(parse_slak_args, convert_slak, argv)
