"""Pieces shared by lkmm's checkpoint converters (RepLKNet, ParCNetV2).

* :class:`ConversionReport` -- what a conversion did, key by key;
* :func:`extract_state_dict` -- unwrap a loaded checkpoint;
* :func:`compare_state_dict_with_model` -- keys and shapes against a model;
* :func:`head_num_classes` -- classes of a converted ``head.fc``.
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

__all__ = [
    'ConversionReport', 'extract_state_dict', 'compare_state_dict_with_model',
    'head_num_classes', 'build_lkmm_classifier', 'fill_bn_counters',
    'released_layout'
]

# Wrapper keys of whole checkpoints, in order of preference: mmengine /
# mmcv / timm ('state_dict'), ConvNeXt-style training scripts ('model').
WRAPPER_KEYS = ('state_dict', 'model')


@dataclass
class ConversionReport:
    """What a converter did, key by key.

    Attributes:
        src_format (str): Source layout (converter specific).
        target (str): ``'classifier'`` or ``'backbone'``.
        num_tensors (int): Tensors in the converted state dict.
        unknown (list[str]): Source keys that could not be mapped (left out:
            the source keys not used).
        dropped (list[str]): Source keys left out on purpose (the head when
            converting to a bare backbone).
        filled (list[str]): Target keys the source lacked and that were
            created (BN ``num_batches_tracked``, set to 0).
        missing (list[str]): Target keys without a value (the classifier
            head when the source has none; and, given a model, every model
            key absent from the converted state dict).
        unexpected (list[str]): Converted keys the given model does not have.
        mismatched (list[str]): ``'key: checkpoint shape vs model shape'``
            for keys whose shapes differ from the given model's.
        matched (list[str]): ``'source key -> target key'`` for every
            source key that was used (converters that record it).
        reshaped (list[str]): ``'source key -> target key: shape -> shape'``
            for tensors whose layout was changed on the way.
        notes (list[str]): Why particular keys are unknown or missing, where
            the converter knows (e.g. a layer lkmm cannot represent).
    """
    src_format: str
    target: str
    num_tensors: int = 0
    unknown: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    filled: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    matched: List[str] = field(default_factory=list)
    reshaped: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every source key was used and nothing is missing."""
        return not (self.unknown or self.missing or self.unexpected
                    or self.mismatched)

    def summary(self) -> str:
        """A multi-line, human-readable account listing keys by name.

        Returns:
            str: The summary.
        """
        lines = [f'{self.src_format} -> lkmm {self.target}: '
                 f'{self.num_tensors} tensors']
        if self.matched:
            lines.append(f'matched source keys: {len(self.matched)}')
        for name in ('reshaped', 'unknown', 'dropped', 'filled', 'missing',
                     'unexpected', 'mismatched'):
            keys = getattr(self, name)
            if keys:
                lines.append(f'{name} keys ({len(keys)}):')
                lines += [f'  {k}' for k in keys]
        if self.notes:
            lines.append('notes:')
            lines += [f'  {n}' for n in self.notes]
        return '\n'.join(lines)


def extract_state_dict(
        checkpoint: Mapping,
        wrapper_keys: Sequence[str] = WRAPPER_KEYS
) -> Dict[str, torch.Tensor]:
    """Unwrap a loaded checkpoint into a plain state dict.

    Accepts ``{'state_dict': sd, ...}`` (mmengine, timm), ``{'model': sd,
    ...}`` (ConvNeXt-style scripts) or a bare state dict, and strips the
    ``module.`` prefix that (Distributed)DataParallel adds.

    Args:
        checkpoint (Mapping): What ``torch.load`` / ``safe_load`` returned.
        wrapper_keys (Sequence[str]): Wrapper keys to look for, in order of
            preference (e.g. ``('state_dict_ema', )`` for timm's EMA
            weights). Defaults to ``('state_dict', 'model')``.

    Returns:
        OrderedDict[str, Tensor]: Keys without ``module.``, in file order.

    Raises:
        ValueError: If it is not a mapping of tensors, is empty, or two keys
            collide once ``module.`` is removed.
    """
    wrappers = ' or '.join(f"{{'{w}': ...}}" for w in wrapper_keys)
    if not isinstance(checkpoint, Mapping):
        raise ValueError('expected a checkpoint dict (a state dict, or one '
                         f'wrapped as {wrappers}), got '
                         f'{type(checkpoint).__name__}')
    state_dict = checkpoint
    for wrapper in wrapper_keys:
        if isinstance(checkpoint.get(wrapper), Mapping):
            state_dict = checkpoint[wrapper]
            break
    if not state_dict:
        raise ValueError('the checkpoint holds no weights (empty state dict)')
    not_tensors = [k for k, v in state_dict.items()
                   if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ValueError(
            'not a state dict: these entries are not tensors: '
            f'{not_tensors[:10]} (expected a state dict, or one wrapped as '
            f'{wrappers})')
    out = OrderedDict()
    for key, value in state_dict.items():
        new_key = key
        while new_key.startswith('module.'):
            new_key = new_key[len('module.'):]
        if new_key in out:
            raise ValueError(f'keys collide after removing "module.": '
                             f'{key!r} and another key both give {new_key!r}')
        out[new_key] = value
    return out


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


def head_num_classes(state_dict: Mapping) -> Optional[int]:
    """Number of classes of the ``head.fc`` in a converted state dict.

    Args:
        state_dict (Mapping): Converted (classifier-form) state dict.

    Returns:
        int | None: ``head.fc.weight``'s rows, or None without a head.
    """
    weight = state_dict.get('head.fc.weight')
    return None if weight is None else int(weight.shape[0])


def build_lkmm_classifier(backbone: dict, in_channels: int,
                          num_classes: Optional[int],
                          neck: Optional[dict] = None) -> nn.Module:
    """An mmpretrain ``ImageClassifier`` around an lkmm backbone: the model
    a converter's ``'classifier'`` target loads into.

    Args:
        backbone (dict): The backbone config (``type='lkmm.X'``).
        in_channels (int): Channels the head receives.
        num_classes (int, optional): Classes of the ``LinearClsHead``; no
            head when None.
        neck (dict, optional): The neck, e.g. ``GlobalAveragePooling``;
            None where the backbone pools itself.

    Returns:
        nn.Module: The classifier (weights not loaded).
    """
    from mmpretrain.registry import MODELS
    head = None if num_classes is None else dict(
        type='LinearClsHead', num_classes=num_classes,
        in_channels=in_channels)
    # _scope_: whatever default scope an earlier build left current.
    return MODELS.build(dict(type='ImageClassifier', _scope_='mmpretrain',
                             backbone=backbone, neck=neck, head=head))


def fill_bn_counters(state_dict: Dict[str, torch.Tensor],
                     report: 'ConversionReport') -> None:
    """Add BN ``num_batches_tracked`` where a converted state dict lacks it
    (older checkpoints, SyncBN-trained releases), listed in
    ``report.filled``: a strict load needs it, and its value only matters
    for ``momentum=None`` BN."""
    for key in [k for k in state_dict if k.endswith('.running_mean')]:
        counter = key[:-len('running_mean')] + 'num_batches_tracked'
        if counter not in state_dict:
            state_dict[counter] = torch.tensor(0, dtype=torch.long)
            report.filled.append(counter)


def released_layout(keys: Sequence[str], bare: bool, prefixed: bool,
                    dense_norm, family: str) -> Optional[str]:
    """Which released layout holds the block keys found: the ImageNet model
    or the mmseg/mmdet backbone.

    Args:
        keys (Sequence[str]): The state dict's keys.
        bare (bool): Released block keys without prefix were found.
        prefixed (bool): Released block keys under ``backbone.`` were found.
        dense_norm (re.Pattern): The dense backbone's output-norm keys.
        family (str): Model name for the message.

    Returns:
        str | None: ``'dense'`` (``backbone.`` keys, or bare keys with
        output norms and no head), ``'classification'``, or None when no
        released block key was found.

    Raises:
        ValueError: bare and ``backbone.`` layouts are mixed.
    """
    if bare and prefixed:
        raise ValueError(f'the state dict mixes released {family} layouts '
                         "('stages.*' and 'backbone.stages.*'); convert one "
                         'model at a time')
    if prefixed:
        return 'dense'
    if bare:
        has_head = any(k in ('norm.weight', 'head.weight') for k in keys)
        dense_norms = any(dense_norm.fullmatch(k) for k in keys)
        return 'dense' if dense_norms and not has_head else 'classification'
    return None
