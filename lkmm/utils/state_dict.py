"""Plain state-dict handling shared by checkpoint loading and conversion:
unwrap a loaded checkpoint, drop a key prefix, compare with a model."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
import torch.nn as nn

__all__ = [
    'WRAPPER_KEYS', 'remove_prefix', 'strip_prefix', 'extract_state_dict',
    'compare_state_dict_with_model'
]

# Wrapper keys of whole checkpoints, in order of preference: mmengine /
# mmcv / timm ('state_dict'), ConvNeXt-style training scripts ('model').
WRAPPER_KEYS = ('state_dict', 'model')


def remove_prefix(key: str, prefix: str) -> str:
    """``key`` without ``prefix``, removed as often as it repeats
    (DataParallel inside DistributedDataParallel names ``module.module.``).
    """
    while key.startswith(prefix):
        key = key[len(prefix):]
    return key


def strip_prefix(state_dict: Mapping, prefix: str,
                 drop_others: bool = False) -> Dict[str, torch.Tensor]:
    """``state_dict`` with ``prefix`` removed from the keys that have it.

    The prefix is removed as :func:`remove_prefix` does.

    Args:
        state_dict (Mapping): Keys to values.
        prefix (str): e.g. ``'module.'`` or ``'backbone.'``.
        drop_others (bool): Leave out the keys without ``prefix`` instead
            of keeping them as they are. Defaults to False.

    Returns:
        OrderedDict: The renamed entries, in their order.

    Raises:
        ValueError: Two keys give the same name once the prefix is gone.
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        new_key = remove_prefix(key, prefix)
        if new_key == key and drop_others:
            continue
        if new_key in out:
            raise ValueError(f'keys collide after removing "{prefix}": '
                             f'{key!r} and another key both give '
                             f'{new_key!r}')
        out[new_key] = value
    return out


def extract_state_dict(
        checkpoint: Mapping,
        wrapper_keys: Sequence[str] = WRAPPER_KEYS,
        required: bool = False) -> Dict[str, torch.Tensor]:
    """Unwrap a loaded checkpoint into a plain state dict.

    Accepts ``{'state_dict': sd, ...}`` (mmengine, timm), ``{'model': sd,
    ...}`` (ConvNeXt-style scripts) or a bare state dict, and strips the
    ``module.`` prefix that (Distributed)DataParallel adds.

    Args:
        checkpoint (Mapping): What ``torch.load`` / ``safe_load`` returned.
        wrapper_keys (Sequence[str]): Wrapper keys to look for, in order of
            preference (e.g. ``('state_dict_ema', )`` for timm's EMA
            weights). Defaults to ``('state_dict', 'model')``.
        required (bool): Refuse a checkpoint without any of
            ``wrapper_keys`` (e.g. EMA weights asked for and absent) instead
            of taking it as a bare state dict. Defaults to False.

    Returns:
        OrderedDict[str, Tensor]: Keys without ``module.``, in file order.

    Raises:
        ValueError: If it is not a mapping of tensors, is empty, lacks a
            required wrapper, or two keys collide once ``module.`` is
            removed.
    """
    wrappers = ' or '.join(f"{{'{w}': ...}}" for w in wrapper_keys)
    if not isinstance(checkpoint, Mapping):
        raise ValueError('expected a checkpoint dict (a state dict, or one '
                         f'wrapped as {wrappers}), got '
                         f'{type(checkpoint).__name__}')
    found = [w for w in wrapper_keys
             if isinstance(checkpoint.get(w), Mapping)]
    if required and not found:
        names = ' or '.join(repr(w) for w in wrapper_keys)
        raise ValueError(f'the checkpoint has no {names} (top-level '
                         f'keys: {list(checkpoint)[:10]})')
    state_dict = checkpoint[found[0]] if found else checkpoint
    if not state_dict:
        raise ValueError('the checkpoint holds no weights (empty state dict)')
    not_tensors = [k for k, v in state_dict.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ValueError(
            'not a state dict: these entries are not tensors: '
            f'{not_tensors[:10]} (expected a state dict, or one wrapped as '
            f'{wrappers})')
    return strip_prefix(state_dict, 'module.')


def compare_state_dict_with_model(
        state_dict: Mapping, model: nn.Module
) -> Tuple[List[str], List[str], List[str]]:
    """Compare keys and shapes of a state dict with a model's.

    Args:
        state_dict (Mapping): Converted state dict.
        model (nn.Module): Model to compare with.

    Returns:
        tuple[list[str], list[str], list[str]]: Missing keys (model keys
        absent from ``state_dict``), unexpected keys, and
        ``'key: checkpoint shape vs model shape'`` for shape mismatches.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f'{k}: {tuple(state_dict[k].shape)} vs {tuple(v.shape)}'
        for k, v in expected.items()
        if k in state_dict and state_dict[k].shape != v.shape
    ]
    return missing, unexpected, mismatched
