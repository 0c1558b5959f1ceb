"""``tools/model_converters/convert.py``: a foreign checkpoint of any
registered family (:mod:`lkmm.utils.checkpoint_mapping`) into lkmm's layout.

Usage::

    python tools/model_converters/convert.py SRC DST [--family auto|NAME] \
        [--target classifier|backbone] [--format auto|LAYOUT] [--ema] \
        [--allow-missing] [--safetensors]

The family's own tools (``replknet_to_lkmm.py``, ``slak_to_lkmm.py``,
``parcnetv2_to_lkmm.py``) are this tool with ``--family`` fixed.

The source is read with :func:`lkmm.utils.checkpoint.safe_load` (never runs
pickled code) and mapped by the family's pure functions. This layer then
infers the model's arguments, builds it (a bare backbone, or an mmpretrain
``ImageClassifier`` for ``--target classifier``), checks every tensor's
name and shape against it, loads the weights into it as the real check,
and writes DST atomically in mmengine format (``{'state_dict': ...,
'meta': ...}``; safetensors with ``--safetensors`` or a ``.safetensors``
DST). On any error DST is left untouched.

Exit status: 0 on success; 1 when the input cannot be read or converted,
shapes do not fit, or source keys could not be mapped / target keys are
missing (unless ``--allow-missing``).
"""
import argparse
import os.path as osp
import re
import sys
import time
from dataclasses import dataclass
from typing import Mapping, Optional

import torch.nn as nn

import lkmm
from lkmm.utils.checkpoint import (
    UnsafeCheckpointError,
    safe_load,
    save_safetensors_checkpoint,
)
from lkmm.utils.checkpoint_mapping import (
    TARGETS,
    CheckpointMapping,
    ConversionReport,
    check_against_model,
    checkpoint_mappings,
    get_checkpoint_mapping,
    head_num_classes,
)
from lkmm.utils.fileio import atomic_torch_save
from lkmm.utils.pretrained import checkpoint_file_problem
from lkmm.utils.state_dict import extract_state_dict

__all__ = [
    'parse_convert_args', 'convert_main', 'convert_checkpoint',
    'build_converted_model', 'ConvertedCheckpoint',
    'replknet_to_lkmm_main', 'slak_to_lkmm_main', 'parcnetv2_to_lkmm_main'
]

TOOL = 'tools/model_converters/convert.py'


def _family_choices():
    return tuple(m.name for m in checkpoint_mappings())


def parse_convert_args(argv=None, family: Optional[str] = None):
    """Arguments of the converter tool.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.
        family (str, optional): Fix the family (a family's own tool): no
            ``--family`` option, and only its layouts and options.

    Returns:
        argparse.Namespace: ``src``, ``dst``, ``family``, ``target``,
        ``format``, ``ema``, ``allow_missing``, ``safetensors``.
    """
    fixed = None if family is None else get_checkpoint_mapping(family)
    mappings = (fixed, ) if fixed else checkpoint_mappings()
    parser = argparse.ArgumentParser(description=(
        f'Convert {fixed.source} into an lkmm checkpoint for '
        f'lkmm.{fixed.model}' if fixed else
        'Convert a foreign checkpoint of any lkmm family ('
        + ', '.join(m.name for m in mappings) + ') into lkmm\'s layout'))
    parser.add_argument('src', help='source checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (mmengine format, '
                        'or .safetensors)')
    if fixed is None:
        parser.add_argument(
            '--family', choices=('auto', ) + _family_choices(),
            default='auto', help='the model family (default: the one '
            'whose layout the keys are in)')
    parser.add_argument(
        '--target', choices=TARGETS, default='classifier',
        help='classifier: ImageClassifier keys backbone.* and head.fc.* '
        '(downstream: Pretrained init with prefix="backbone."); backbone: '
        'bare backbone keys, head dropped (default: classifier)')
    formats = tuple(dict.fromkeys(f for m in mappings for f in m.formats))
    parser.add_argument('--format', choices=('auto', ) + formats,
                        default='auto',
                        help='source layout (default: detect it)')
    if any(m.ema_key for m in mappings):
        parser.add_argument('--ema', action='store_true',
                            help='convert the EMA weights (' + ', '.join(
                                m.ema_key for m in mappings if m.ema_key)
                            + ')')
    parser.add_argument(
        '--allow-missing', action='store_true',
        help='write the output even if source keys could not be mapped '
        '(they are dropped) or target keys are missing (e.g. no head)')
    parser.add_argument(
        '--safetensors', action='store_true',
        help='write DST as a .safetensors file (the state dict, with the '
        'meta dict JSON-encoded in its metadata) instead of a torch '
        'checkpoint; implied when DST ends with .safetensors')
    args = parser.parse_args(argv)
    args.family = family or args.family
    args.ema = getattr(args, 'ema', False)
    return args


@dataclass
class ConvertedCheckpoint:
    """A conversion checked against the model it is for.

    Attributes:
        mapping (CheckpointMapping): The family's mapping.
        state_dict (dict): The converted weights.
        report (ConversionReport): What the conversion did, with the
            model's missing and unexpected keys.
        kwargs (dict): The inferred backbone arguments.
        num_classes (int, optional): Classes of the converted head.
        model (nn.Module): The model built from ``kwargs``.
    """
    mapping: CheckpointMapping
    state_dict: dict
    report: ConversionReport
    kwargs: dict
    num_classes: Optional[int]
    model: nn.Module


def find_family(checkpoint: Mapping) -> CheckpointMapping:
    """The family whose foreign layout ``checkpoint``'s keys are in.

    Raises:
        ValueError: no registered family recognises them.
    """
    for mapping in checkpoint_mappings():
        if mapping.recognise(checkpoint) is not None or (
                mapping.ema_key and isinstance(
                    checkpoint.get(mapping.ema_key), Mapping)
                and mapping.recognise(checkpoint[mapping.ema_key])):
            return mapping
    keys = list(extract_state_dict(checkpoint))[:5]
    raise ValueError(
        'no lkmm family recognises this checkpoint\'s layout (first keys: '
        f'{keys}); pass --family, one of {list(_family_choices())}')


def build_converted_model(mapping: CheckpointMapping, kwargs: dict,
                          target: str = 'classifier',
                          num_classes: Optional[int] = None) -> nn.Module:
    """The lkmm model whose state dict layout is ``target``.

    Args:
        mapping (CheckpointMapping): The family (its ``model`` is built).
        kwargs (dict): The backbone's arguments.
        target (str): ``'backbone'`` (the bare backbone) or
            ``'classifier'`` (an mmpretrain ``ImageClassifier`` with the
            family's neck and a ``LinearClsHead``).
        num_classes (int, optional): Classes of the head; no head when None.

    Returns:
        nn.Module: The model (weights not loaded).
    """
    from mmpretrain.registry import MODELS

    from lkmm.registry import MODELS as LKMM_MODELS
    backbone = dict(type=f'lkmm.{mapping.model}', **kwargs)
    if target == 'backbone':
        return LKMM_MODELS.build(backbone)
    # The head sees the last stage's channels (every family's parse_arch).
    channels = LKMM_MODELS.get(mapping.model).parse_arch(
        kwargs['arch'])['channels'][-1]
    head = None if num_classes is None else dict(
        type='LinearClsHead', num_classes=num_classes, in_channels=channels)
    # _scope_: whatever default scope an earlier build left current.
    return MODELS.build(dict(type='ImageClassifier', _scope_='mmpretrain',
                             backbone=backbone, neck=mapping.classifier_neck,
                             head=head))


def convert_checkpoint(checkpoint: Mapping, family: str = 'auto',
                       src_format: Optional[str] = None,
                       target: str = 'classifier',
                       use_ema: bool = False) -> ConvertedCheckpoint:
    """Convert a loaded checkpoint and check it against the inferred model.

    Args:
        checkpoint (Mapping): The loaded source checkpoint.
        family (str): A registered family, or ``'auto'`` to recognise it.
        src_format (str, optional): The source layout; detected when None
            or ``'auto'``.
        target (str): ``'classifier'`` or ``'backbone'``.
        use_ema (bool): Convert the family's EMA weights.

    Returns:
        ConvertedCheckpoint: The weights, report, arguments and model.

    Raises:
        ValueError: an unknown family / layout / target, keys the family
            cannot map, or shapes that do not fit the inferred model.
    """
    mapping = find_family(checkpoint) if family == 'auto' else \
        get_checkpoint_mapping(family)
    state_dict, report = mapping.convert(
        checkpoint, src_format=src_format, target=target, use_ema=use_ema)
    kwargs = mapping.infer_kwargs(state_dict, report)
    num_classes = head_num_classes(state_dict)
    model = build_converted_model(mapping, kwargs, target, num_classes)
    check_against_model(state_dict, report, model)
    return ConvertedCheckpoint(mapping, state_dict, report, kwargs,
                               num_classes, model)


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


def _print_report(converted: ConvertedCheckpoint, args) -> None:
    """What was converted, inferred, reshaped, dropped and left out."""
    report, mapping = converted.report, converted.mapping
    print(f'family: {mapping.name} (lkmm.{mapping.model})')
    print(f'source format: {report.src_format}, target: {args.target}'
          + (' (EMA weights)' if args.ema else ''))
    print(f'inferred lkmm.{mapping.model} kwargs: {converted.kwargs}')
    if args.target == 'classifier':
        print(f'head: {converted.num_classes} classes'
              if converted.num_classes else 'head: none')
    print(f'converted tensors: {report.num_tensors}'
          + (f' from {len(report.matched)} matched source keys'
             if report.matched else ''))
    for title, keys in (
            ('reshaped (source layout -> lkmm layout)', report.reshaped),
            ('dropped source keys (not part of the target)', report.dropped)):
        if keys:
            _print_keys(title, keys)
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


def _save(converted: ConvertedCheckpoint, args) -> None:
    """Write DST atomically, with what produced it in ``meta``."""
    report, family = converted.report, converted.mapping.name
    meta = {
        'converted_by': getattr(args, 'tool', TOOL), 'family': family,
        f'{family}_kwargs': converted.kwargs, 'ema': args.ema,
        'num_classes': converted.num_classes,
        'unknown_source_keys': report.unknown,
        'missing_keys': report.missing,
        'lkmm_version': lkmm.__version__,
        'source': osp.basename(args.src), 'source_format': report.src_format,
        'target': args.target, 'time': time.strftime('%Y-%m-%d %H:%M:%S')}
    if args.safetensors or str(args.dst).endswith('.safetensors'):
        save_safetensors_checkpoint(converted.state_dict, args.dst, meta)
        print(f'saved {args.dst} (safetensors)')
    else:
        atomic_torch_save(dict(state_dict=converted.state_dict, meta=meta),
                          args.dst)
        print(f'saved {args.dst}')


def convert(args) -> int:
    """Load, convert, verify and save; returns the exit status.

    Raises:
        ValueError: unreadable input or a conversion that cannot be done.
    """
    checkpoint = _load_source(args.src)
    converted = convert_checkpoint(
        checkpoint, args.family,
        None if args.format == 'auto' else args.format, args.target,
        args.ema)
    del checkpoint  # large models: keep only one copy of the weights
    _print_report(converted, args)
    report = converted.report
    if (report.unknown or report.missing) and not args.allow_missing:
        print('error: conversion is incomplete (see the keys above); pass '
              '--allow-missing to write it anyway', file=sys.stderr)
        return 1
    # The real check: the inferred model accepts every tensor as is.
    converted.model.load_state_dict(converted.state_dict,
                                    strict=not report.missing)
    print('verified: the inferred lkmm model loads the weights '
          f'(strict={not report.missing})')
    _save(converted, args)
    return 0


def convert_main(argv=None, family: Optional[str] = None) -> int:
    """``tools/model_converters/convert.py`` (or a family's own tool when
    ``family`` is given): expected failures get one clear line, not a
    traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.
        family (str, optional): Fix the family (see
            :func:`parse_convert_args`).

    Returns:
        int: The exit status.
    """
    args = parse_convert_args(argv, family)
    if family:
        args.tool = f'tools/model_converters/{family}_to_lkmm.py'
    try:
        return convert(args)
    except (ValueError, UnsafeCheckpointError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1


def replknet_to_lkmm_main(argv=None) -> int:
    """``tools/model_converters/replknet_to_lkmm.py``: :func:`convert_main`
    for RepLKNet (official or mmpretrain layout); returns the exit
    status."""
    return convert_main(argv, 'replknet')


def slak_to_lkmm_main(argv=None) -> int:
    """``tools/model_converters/slak_to_lkmm.py``: :func:`convert_main` for
    released SLaK checkpoints; returns the exit status."""
    return convert_main(argv, 'slak')


def parcnetv2_to_lkmm_main(argv=None) -> int:
    """``tools/model_converters/parcnetv2_to_lkmm.py``:
    :func:`convert_main` for released ParCNetV2 checkpoints; returns the
    exit status."""
    return convert_main(argv, 'parcnetv2')
