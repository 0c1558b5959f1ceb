"""Pretrained loading that cannot silently do nothing.

mmengine loads a ``Pretrained`` init or a ``load_from`` checkpoint with
``strict=False``: a file in another implementation's layout (a released
SLaK, RepLKNet or ParCNetV2 checkpoint) loads *none* of the model's tensors,
logs "unexpected key in source state_dict", and training goes on from
random weights. lkmm's backbones (their ``init_weights``) and lkmm's train
tool (``load_from``) go through :func:`check_pretrained_match` instead: when
only a small fraction of the model's tensors would be loaded, they stop and
say how many matched, show a few source keys, and name the converter that
fits the file. Partial loads that are expected (a classifier checkpoint into
a segmentor, the head left out) keep working and keep being reported.
"""
from typing import Dict, List, Mapping, Optional

import torch
import torch.nn as nn

from lkmm.registry import WEIGHT_INITIALIZERS

from .checkpoint_mapping import find_checkpoint_mapping
from .pretrained import checkpoint_file_problem
from .state_dict import strip_prefix

__all__ = [
    'MIN_MATCHED_FRACTION', 'PretrainedMismatchError', 'suggest_converter',
    'check_pretrained_match', 'check_loaded_checkpoint', 'load_pretrained',
    'CheckedPretrainedInit'
]

#: The converter command a foreign file is pointed to.
CONVERTER = 'tools/model_converters/convert.py'


#: Smallest fraction of the model's tensors a pretrained file must fill.
#: Expected partial loads fill far more (a classifier checkpoint fills a
#: UperNet RepLKNet-31B's backbone: about 90% of the segmentor's tensors).
MIN_MATCHED_FRACTION = 0.5


class PretrainedMismatchError(ValueError):
    """A pretrained file fills too few of the model's tensors."""


def suggest_converter(state_dict: Mapping) -> Optional[str]:
    """The converter command for a state dict in a foreign layout, or None.

    Args:
        state_dict (Mapping): Keys of the pretrained file.

    Returns:
        str | None: e.g. ``'tools/model_converters/convert.py SRC DST
        --family slak (a released SLaK checkpoint (VITA-Group/SLaK),
        classification layout)'``: the registered family that recognises
        the keys (:func:`~lkmm.utils.checkpoint_mapping.
        find_checkpoint_mapping`).
    """
    found = find_checkpoint_mapping(state_dict)
    if found is None:
        return None
    mapping, fmt = found
    return (f'{CONVERTER} SRC DST --family {mapping.name} ({mapping.source}'
            f', {fmt} layout)')


def _matched(model_state: Mapping, source: Mapping) -> List[str]:
    return [k for k, v in model_state.items()
            if k in source and isinstance(source[k], torch.Tensor)
            and source[k].shape == v.shape]


def check_pretrained_match(model: nn.Module, state_dict: Mapping,
                           source: str, what: str = 'the model',
                           foreign: Optional[Mapping] = None,
                           min_fraction: float = MIN_MATCHED_FRACTION
                           ) -> int:
    """Refuse a pretrained state dict that fills too few tensors.

    Args:
        model (nn.Module): The model the weights are for.
        state_dict (Mapping): The weights, keys as ``model`` names them
            (prefix already removed).
        source (str): The file, for the message.
        what (str): What is loaded, for the message.
        foreign (Mapping, optional): The file's keys before prefix
            selection, used to recognise a foreign layout. Defaults to
            ``state_dict``.
        min_fraction (float): Smallest accepted fraction of the model's
            tensors. Defaults to :data:`MIN_MATCHED_FRACTION`.

    Returns:
        int: How many tensors match (name and shape).

    Raises:
        PretrainedMismatchError: naming the counts, a few unmatched source
            keys and the converter that fits the file.
    """
    state_dict = _with_current_keys(model, state_dict)
    own = model.state_dict()
    matched = _matched(own, state_dict)
    if own and len(matched) >= min_fraction * len(own):
        return len(matched)
    matched_set = set(matched)
    unmatched = [k for k in state_dict if k not in matched_set]
    lines = [
        f'{source} fills only {len(matched)} of the {len(own)} tensors of '
        f'{what} (at least {min_fraction:.0%} expected): it is not a '
        'checkpoint of this model in lkmm\'s layout.'
    ]
    if unmatched:
        lines.append(f'Source keys not in the model ({len(unmatched)}), '
                     f'e.g. {unmatched[:5]}; the model expects e.g. '
                     f'{list(own)[:3]}.')
    converter = suggest_converter(foreign if foreign is not None
                                  else state_dict)
    if converter:
        lines.append(f'Convert it first: python {converter}.')
    raise PretrainedMismatchError('\n'.join(lines))


def _with_current_keys(model: nn.Module, state_dict: Mapping) -> Mapping:
    """``state_dict`` with the key names each module of ``model`` renamed
    since (its ``upgrade_legacy_keys``, e.g. ParCNetV2's blocks), so an
    older lkmm checkpoint counts as matching."""
    for name, module in model.named_modules():
        upgrade = getattr(module, 'upgrade_legacy_keys', None)
        if upgrade is not None:
            state_dict = upgrade(state_dict, f'{name}.' if name else '')
    return state_dict


def _unwrapped(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """A checkpoint's state dict, without DDP's ``module.`` prefix (as
    mmengine loads it)."""
    return strip_prefix(checkpoint.get('state_dict', checkpoint), 'module.')


def check_loaded_checkpoint(model: nn.Module, checkpoint: Mapping,
                            source: str, what: str) -> int:
    """:func:`check_pretrained_match` of a whole loaded checkpoint (e.g.
    what mmengine's Runner loads for ``load_from``)."""
    return check_pretrained_match(model, _unwrapped(checkpoint), source,
                                  what)


def _select_prefix(state_dict: Dict[str, torch.Tensor],
                   prefix: Optional[str], source: str
                   ) -> Dict[str, torch.Tensor]:
    if not prefix:
        return state_dict
    if not prefix.endswith('.'):
        prefix += '.'
    selected = {k[len(prefix):]: v for k, v in state_dict.items()
                if k.startswith(prefix)}
    if not selected:
        converter = suggest_converter(state_dict)
        raise PretrainedMismatchError(
            f'{source} has no key starting with prefix "{prefix}" (its keys '
            f'are e.g. {list(state_dict)[:5]})' +
            (f'; convert it first: python {converter}' if converter else
             '; use the prefix its keys have, or none'))
    return selected


def load_pretrained(model: nn.Module, checkpoint: str,
                    prefix: Optional[str] = None,
                    map_location='cpu') -> int:
    """mmengine's ``Pretrained`` init, checked: read ``checkpoint`` (any
    mmengine scheme, loaded safely), keep the keys under ``prefix``, refuse
    a file that fills too few tensors, then load with ``strict=False`` and
    mmengine's report of missing and unexpected keys.

    Args:
        model (nn.Module): The module to fill.
        checkpoint (str): Path or URL.
        prefix (str, optional): Keep only keys under this prefix (e.g.
            ``'backbone.'``), without it.
        map_location: As :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        int: How many tensors were filled.

    Raises:
        PretrainedMismatchError: see :func:`check_pretrained_match`.
        ValueError: an empty, truncated or non-checkpoint file.
    """
    from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
    problem = checkpoint_file_problem(checkpoint)
    if problem:
        raise ValueError(problem)
    loaded = CheckpointLoader.load_checkpoint(checkpoint,
                                              map_location=map_location)
    if not isinstance(loaded, Mapping):
        raise ValueError(f'{checkpoint} holds a {type(loaded).__name__}, '
                         'not a checkpoint (a dict of tensors)')
    state_dict = _unwrapped(loaded)
    selected = _select_prefix(state_dict, prefix, checkpoint)
    what = type(model).__name__
    count = check_pretrained_match(model, selected, checkpoint, what,
                                   foreign=state_dict)
    load_state_dict(model, selected, strict=False, logger='current')
    return count


@WEIGHT_INITIALIZERS.register_module(name='CheckedPretrained')
class CheckedPretrainedInit:
    """mmengine's ``Pretrained`` initializer, checked
    (:func:`load_pretrained`): a file that fills too few of the module's
    tensors, or is empty, truncated or not a checkpoint, stops with a
    message instead of leaving random weights.

    lkmm's backbones apply it to their ``type='Pretrained'`` entries, last
    (as mmengine orders ``Pretrained``); on another module give it as
    ``init_cfg=dict(type='lkmm.CheckedPretrained', checkpoint=...)``.

    Args:
        checkpoint (str): Path or URL.
        prefix (str, optional): Keep only keys under this prefix.
        map_location (str): As :func:`torch.load`. Defaults to ``'cpu'``.
    """

    def __init__(self, checkpoint: str, prefix: Optional[str] = None,
                 map_location: str = 'cpu'):
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> None:
        load_pretrained(module, self.checkpoint, prefix=self.prefix,
                        map_location=self.map_location)

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: load from {self.checkpoint}'
