"""Checks that turn a deep shape error into a message about the config.

Dropping an lkmm backbone into a stock config is a few lines, but the neck or
head there expects the channels of the backbone it was written for (e.g.
ResNet-50's 256-512-1024-2048). Left alone, the mismatch surfaces as a conv
shape error deep inside the first forward pass.
"""
from typing import List, Optional, Sequence

import torch.nn as nn


class ChannelMismatchError(ValueError):
    """A neck or head expects other channels than the backbone gives."""


def backbone_out_channels(backbone: nn.Module) -> Optional[List[int]]:
    """Channels of each output of an lkmm backbone, in output order.

    Args:
        backbone (nn.Module): A backbone with ``channels`` (per stage) and
            ``out_indices`` attributes, as the lkmm backbones have.

    Returns:
        list[int] | None: None for backbones that do not describe their
        outputs that way (nothing is checked then).
    """
    channels = getattr(backbone, 'channels', None)
    indices = getattr(backbone, 'out_indices', None)
    if not isinstance(channels, Sequence) or not isinstance(
            indices, Sequence):
        return None
    return [int(channels[i]) for i in indices]


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _expected_by_head(head: nn.Module, outs: List[int]):
    """What an mmseg decode head (``in_channels`` + ``in_index``) should get.

    ``input_transform='resize_concat'`` heads take the sum, so they are left
    alone.
    """
    if getattr(head, 'input_transform', None) == 'resize_concat':
        return None, None
    index = getattr(head, 'in_index', None)
    if index is None:
        return None, None
    try:
        picked = [outs[i] for i in _as_list(index)]
    except IndexError:
        return None, None
    got = head.in_channels
    expected = picked if isinstance(index, (list, tuple)) else picked[0]
    return got, expected


def check_backbone_channels(model: nn.Module) -> None:
    """Check the neck / heads of an OpenMMLab model against its backbone.

    Covers the usual consumers of backbone outputs: an mmdet neck (``FPN``,
    ``ChannelMapper``: ``in_channels`` list), mmseg decode and auxiliary heads
    (``in_channels`` with ``in_index``) and an mmpretrain classifier head after
    global pooling (``in_channels`` of the last output). Backbones other than
    lkmm's, and models of other shapes, are not checked.

    Args:
        model (nn.Module): A built model (wrappers with ``.module`` are
            unwrapped).

    Raises:
        ChannelMismatchError: naming the config key, what it says and what
            the backbone gives.
    """
    model = getattr(model, 'module', model)
    backbone = getattr(model, 'backbone', None)
    if backbone is None:
        return
    outs = backbone_out_channels(backbone)
    if outs is None:
        return
    name = f'{type(backbone).__name__} with out_indices ' \
        f'{tuple(backbone.out_indices)}'
    problems = []
    neck = getattr(model, 'neck', None)
    neck_in = getattr(neck, 'in_channels', None) if neck is not None else None
    if neck_in is not None and isinstance(neck_in, (list, tuple)):
        if list(neck_in) != outs:
            problems.append(('model.neck.in_channels', list(neck_in), outs))
    elif neck is None or neck_in is None:
        for attr in ('decode_head', 'auxiliary_head'):
            heads = getattr(model, attr, None)
            if heads is None:
                continue
            heads = heads if isinstance(heads, nn.ModuleList) else [heads]
            for i, head in enumerate(heads):
                if not hasattr(head, 'in_channels'):
                    continue
                got, expected = _expected_by_head(head, outs)
                if expected is not None and _as_list(got) != _as_list(
                        expected):
                    key = f'model.{attr}' + (f'.{i}' if len(heads) > 1
                                             else '') + '.in_channels'
                    problems.append((key, got, expected))
        head = getattr(model, 'head', None)
        pooled = neck is not None and type(neck).__name__ in (
            'GlobalAveragePooling', 'GeneralizedMeanPooling')
        if pooled and isinstance(getattr(head, 'in_channels', None), int):
            if head.in_channels != outs[-1]:
                problems.append(('model.head.in_channels', head.in_channels,
                                 outs[-1]))
    if problems:
        lines = [f'{key} is {got} but the backbone ({name}) gives {want}; '
                 f'set {key}={want}' for key, got, want in problems]
        raise ChannelMismatchError(
            'the model does not fit its backbone:\n  ' + '\n  '.join(lines))
