"""Convert the authors' released ParCNetV2 checkpoints into lkmm's layout.

Source layouts (`XuRuihan/ParCNetV2`_):

* ``'classification'`` -- the ImageNet model of ``models/parcnetv2.py``
  (timm): ``downsample_layers.{0..3}`` (``conv``, the stem's ``post_norm``,
  the others' ``pre_norm``), ``stages.{i}.{b}`` blocks (``norm1``,
  ``token_mixer.{pwconv1, dwconv1.conv_h, dwconv1.conv_w, dwconv2,
  pwconv2}``, ``norm2``, ``mlp.{fc1, fc2}`` -- ``nn.Linear`` --, and
  ``res_scale{1,2}.scale`` / ``layer_scale{1,2}.scale`` where enabled),
  ``norm`` (``nn.LayerNorm`` after pooling) and ``head`` (``nn.Linear``).
  Whole timm checkpoints keep it under ``state_dict`` (and the EMA copy
  under ``state_dict_ema``).
* ``'dense'`` -- the mmseg / mmdet backbone of
  ``semantic_segmentation/`` and ``object_detection/backbone/
  parcnetv2.py``: the same backbone names (under ``backbone.`` in a
  segmentor / detector checkpoint) plus ``norm{0..3}`` on the returned
  stages, no ``norm`` and no ``head``.

Targets (as :mod:`lkmm.models.backbones.replknet_checkpoint`):

* ``'classifier'`` (default): mmpretrain ``ImageClassifier`` keys with
  ``backbone=dict(type='lkmm.ParCNetV2', arch='release-*')`` (it pools
  before its final norm, ``gap_before_final_norm=True``), no neck and a
  ``LinearClsHead``, as configs/parcnetv2: ``backbone.*`` and
  ``head.fc.*``.
* ``'backbone'``: bare ``lkmm.ParCNetV2`` keys, no head.

Renamed: the release's block ``stages.{i}.{b}`` is lkmm's
``stages.{i}.blocks.{b}``; lkmm state dicts with the older
``stages.{i}.{b}`` block keys are read too
(:meth:`ParCNetV2.upgrade_legacy_keys`).

Layout changes (listed as *reshaped* in the report): ``mlp.fc1`` /
``mlp.fc2`` are ``nn.Linear`` ``(out, in)`` in the release and 1x1 convs
``(out, in, 1, 1)`` in lkmm's channel BGU; ``res_scale*`` / ``layer_scale*``
are ``(C,)`` there and ``(C, 1, 1)`` here. The oversized kernels are stored
alike (``(C, 1, K, 1)`` and ``(C, 1, 1, K)``, K = 111, 55, 27, 13 at 224),
so lkmm's ``train_size`` is inferred from their lengths.

The dense backbone's ``norm{i}`` (the release's L2-normalizing LayerNorm
without bias) become lkmm's ``norm{i}.weight``: ``'release-*'`` archs
built with ``gap_before_final_norm=False`` use the same norm there, and
they apply the oversized kernels at their stored length at every input
size (``resize_kernels=False``), as the release does.

.. _XuRuihan/ParCNetV2: https://github.com/XuRuihan/ParCNetV2
"""
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from lkmm.utils.checkpoint_mapping import (
    TARGETS,
    CheckpointMapping,
    ConversionReport,
    check_against_model,
    check_choice,
    detect_released_layout,
    key_indices,
    map_released_keys,
    register_checkpoint_mapping,
    released_source_prefix,
    require_key,
)
from lkmm.utils.state_dict import extract_state_dict, strip_prefix

from .parcnetv2 import ParCNetV2

__all__ = [
    'PARCNETV2_FORMATS', 'PARCNETV2_TARGETS', 'PARCNETV2_CHECKPOINTS',
    'detect_parcnetv2_format', 'convert_parcnetv2_state_dict',
    'lkmm_to_parcnetv2_state_dict', 'infer_parcnetv2_kwargs'
]

PARCNETV2_FORMATS = ('classification', 'dense')
PARCNETV2_TARGETS = TARGETS

# How a tensor's layout changes between the release and lkmm.
_SAME = 'same'
_LINEAR = 'linear'  # nn.Linear (out, in) <-> 1x1 conv (out, in, 1, 1)
_VECTOR = 'vector'  # Scale (C,) <-> lkmm's per-channel (C, 1, 1)


@dataclass(frozen=True)
class _KeyRule:
    """One released key template and its lkmm counterpart.

    Templates hold ``{i}`` (stage), ``{b}`` (block) and ``{d}`` (a
    downsampling layer after the stem) fields.
    """
    released: str
    lkmm: str
    layout: str = _SAME


_FIELDS = {'i': r'\d+', 'b': r'\d+', 'd': r'[1-9]\d*'}


def _template_regex(template: str) -> re.Pattern:
    pattern = re.escape(template)
    for name, value in _FIELDS.items():
        pattern = pattern.replace(re.escape('{' + name + '}'),
                                  f'(?P<{name}>{value})')
    return re.compile(pattern)


_BLOCK_RULES = [
    ('norm1.weight', 'norm1.weight', _SAME),
    ('token_mixer.pwconv1.weight', 'spatial.pwconv1.weight', _SAME),
    ('token_mixer.pwconv1.bias', 'spatial.pwconv1.bias', _SAME),
    ('token_mixer.dwconv1.conv_h.weight', 'spatial.global_conv.weight_h',
     _SAME),
    ('token_mixer.dwconv1.conv_w.weight', 'spatial.global_conv.weight_w',
     _SAME),
    ('token_mixer.dwconv2.weight', 'spatial.local_conv.weight', _SAME),
    ('token_mixer.pwconv2.weight', 'spatial.pwconv2.weight', _SAME),
    ('norm2.weight', 'norm2.weight', _SAME),
    ('mlp.fc1.weight', 'channel.fc1.weight', _LINEAR),
    ('mlp.fc1.bias', 'channel.fc1.bias', _SAME),
    ('mlp.fc2.weight', 'channel.fc2.weight', _LINEAR),
    ('res_scale1.scale', 'res_scale1', _VECTOR),
    ('res_scale2.scale', 'res_scale2', _VECTOR),
    ('layer_scale1.scale', 'gamma1', _VECTOR),
    ('layer_scale2.scale', 'gamma2', _VECTOR),
]

# Backbone keys (release names without 'backbone.') <-> lkmm names.
_RULES = [
    _KeyRule('downsample_layers.0.conv.weight',
             'downsample_layers.0.0.weight'),
    _KeyRule('downsample_layers.0.conv.bias', 'downsample_layers.0.0.bias'),
    _KeyRule('downsample_layers.0.post_norm.weight',
             'downsample_layers.0.1.weight'),
    _KeyRule('downsample_layers.{d}.pre_norm.weight',
             'downsample_layers.{d}.0.weight'),
    _KeyRule('downsample_layers.{d}.conv.weight',
             'downsample_layers.{d}.1.weight'),
    _KeyRule('downsample_layers.{d}.conv.bias',
             'downsample_layers.{d}.1.bias'),
] + [
    _KeyRule('stages.{i}.{b}.' + src, 'stages.{i}.blocks.{b}.' + dst,
             layout)
    for src, dst, layout in _BLOCK_RULES
]
_TO_LKMM = [(_template_regex(r.released), r) for r in _RULES]
_TO_RELEASED = [(_template_regex(r.lkmm), r) for r in _RULES]

# Block keys that tell the layouts apart.
_RELEASED_BLOCK = re.compile(r'stages\.\d+\.\d+\.(token_mixer|mlp)\.')
_DENSE_BLOCK = re.compile(r'backbone\.stages\.\d+\.\d+\.(token_mixer|mlp)\.')
_DENSE_NORM = re.compile(r'(backbone\.)?norm(?P<i>\d+)\.weight')
# lkmm's block keys, and the older ones without ``blocks``.
_LKMM_BLOCK = re.compile(
    r'(backbone\.)?stages\.\d+\.(blocks\.)?\d+\.(spatial|channel)\.')

_BIAS_NOTE = (
    'the released code can add biases (its bias=True option) that lkmm\'s '
    'release blocks do not have: {keys}')


def _stage_of(key: str) -> Optional[int]:
    match = re.match(r'(?:backbone\.)?stages\.(\d+)\.', key)
    return int(match.group(1)) if match else None


def _relayout(tensor: torch.Tensor, layout: str, key: str,
              to_lkmm: bool) -> torch.Tensor:
    """Change one tensor's layout; a shape that does not fit is an error
    naming the key."""
    if layout == _SAME:
        return tensor
    if to_lkmm:
        ndim, form = (2, '(out, in) nn.Linear weight') \
            if layout == _LINEAR else (1, '(C,) scale')
        if tensor.dim() != ndim:
            raise ValueError(f'{key}: expected a {form}, got shape '
                             f'{tuple(tensor.shape)}')
        shape = tuple(tensor.shape) + (1, 1)
    else:
        ndim, form = (4, '(out, in, 1, 1) conv weight') \
            if layout == _LINEAR else (3, '(C, 1, 1) scale')
        if tensor.dim() != ndim or tuple(tensor.shape[-2:]) != (1, 1):
            raise ValueError(f'{key}: expected a {form}, got shape '
                             f'{tuple(tensor.shape)}')
        shape = tuple(tensor.shape[:-2])
    return tensor.reshape(shape)


def _map_key(key: str, to_lkmm: bool) -> Optional[Tuple[str, str]]:
    """``(mapped key, layout)`` of a backbone key, or None."""
    for pattern, rule in (_TO_LKMM if to_lkmm else _TO_RELEASED):
        match = pattern.fullmatch(key)
        if match:
            template = rule.lkmm if to_lkmm else rule.released
            return template.format(**match.groupdict()), rule.layout
    return None


def detect_parcnetv2_format(state_dict: Mapping) -> str:
    """Tell which released ParCNetV2 layout a state dict uses.

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (see
            :func:`lkmm.utils.state_dict.extract_state_dict`).

    Returns:
        str: ``'classification'`` (the ImageNet model, bare block keys
        ``stages.{i}.{b}.token_mixer.*``) or ``'dense'`` (the mmseg/mmdet
        backbone: block keys under ``backbone.``, or bare block keys with
        ``norm{i}`` output norms).

    Raises:
        ValueError: If no released block keys are found (naming the keys
            expected), the keys are already lkmm's, or layouts are mixed.
    """
    return detect_released_layout(
        state_dict, _RELEASED_BLOCK.match, _DENSE_NORM, _LKMM_BLOCK,
        ('ParCNetV2', 'ParCNetV2', 'stages.0.blocks.0.spatial.*',
         'stages.0.0.token_mixer.pwconv1.weight'))


def convert_parcnetv2_state_dict(
        state_dict: Mapping,
        src_format: Optional[str] = None,
        target: str = 'classifier',
        use_ema: bool = False,
        model: Optional[nn.Module] = None
) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """Map every key of a released ParCNetV2 checkpoint to lkmm's names.

    Tensors are renamed and, where the layouts differ, reshaped (views, no
    copies); nothing else changes.

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (wrapped as
            ``{'state_dict': ...}`` or ``{'model': ...}``; ``module.``
            prefixes are removed).
        src_format (str, optional): ``'classification'`` or ``'dense'``;
            detected when None or ``'auto'``.
        target (str): ``'classifier'`` for mmpretrain ``ImageClassifier``
            keys (``backbone.*``, ``head.fc.*``) or ``'backbone'`` for bare
            ``lkmm.ParCNetV2`` keys. Defaults to ``'classifier'``.
        use_ema (bool): Take timm's ``state_dict_ema`` instead of
            ``state_dict``. Defaults to False.

        model (nn.Module, optional): A model whose ``state_dict()`` has the
            target layout, to check against (nothing is built here): its
            missing and unexpected keys go to the report, shapes that
            differ are errors.
    Returns:
        tuple[OrderedDict, ConversionReport]: The converted state dict and
        the report (source keys not used are left out and listed as
        ``unknown``).

    Raises:
        ValueError: For an unknown ``src_format`` / ``target``, a
            non-ParCNetV2 input, a tensor whose shape does not fit its
            layout (naming the key and its shape), two source keys mapping
            to one target key, or when no key could be converted.
    """
    check_choice(target, PARCNETV2_TARGETS, 'target')
    state_dict = extract_state_dict(
        state_dict, ('state_dict_ema', ) if use_ema else
        ('state_dict', 'model'), required=use_ema)
    if src_format in (None, 'auto'):
        src_format = detect_parcnetv2_format(state_dict)
    check_choice(src_format, PARCNETV2_FORMATS, 'src_format')
    report = ConversionReport(src_format=src_format, target=target)
    stages = [s for s in map(_stage_of, state_dict) if s is not None]
    out = map_released_keys(state_dict, report,
                            max(stages) if stages else 0, _map_released,
                            _DENSE_NORM, 'ParCNetV2')
    src_prefix = released_source_prefix(state_dict, src_format)
    extra_biases = [k for k in report.unknown if k.startswith(src_prefix)
                    and k[len(src_prefix):].startswith('stages.')
                    and k.endswith('.bias')]
    if extra_biases:
        report.notes.append(_BIAS_NOTE.format(keys=extra_biases[:10]))
    report.num_tensors = len(out)
    if model is not None:
        check_against_model(out, report, model)
    return out, report


def _map_released(src: str, name: str, value: torch.Tensor):
    mapped = _map_key(name, to_lkmm=True)
    if mapped is None:
        return None
    return (mapped[0], _relayout(value, mapped[1], src, to_lkmm=True),
            mapped[1] != _SAME)


def lkmm_to_parcnetv2_state_dict(
        state_dict: Mapping) -> Dict[str, torch.Tensor]:
    """The inverse mapping: an lkmm release-arch classifier (or backbone)
    state dict in the released ImageNet model's layout.

    Args:
        state_dict (Mapping): ``lkmm.ParCNetV2`` keys (release arch, output
            norm on the last stage only), bare or as an ``ImageClassifier``
            (``backbone.*``, ``head.fc.*``); blocks at
            ``stages.{i}.blocks.{b}`` or the older ``stages.{i}.{b}``.

    Returns:
        OrderedDict[str, Tensor]: Released keys (``stages.*``,
        ``downsample_layers.*``, ``norm.*``, ``head.*``).

    Raises:
        ValueError: Naming a key the released layout has no place for
            (e.g. an output norm of an earlier stage, a paper-form block).
    """
    state_dict = ParCNetV2.upgrade_legacy_keys(
        strip_prefix(extract_state_dict(state_dict), 'backbone.'))
    stages = [s for s in map(_stage_of, state_dict) if s is not None]
    last = max(stages) if stages else 0
    # Output norms without a bias are the L2 norms of a dense-prediction
    # release model (a classifier's pooled final norm has one).
    dense_output_norms = not any(
        re.fullmatch(r'norm\d+\.bias', k) for k in state_dict)
    out = OrderedDict()
    for key, value in state_dict.items():
        head = re.fullmatch(r'head\.fc\.(weight|bias)', key)
        final_norm = re.fullmatch(rf'norm{last}\.(weight|bias)', key)
        mapped = _map_key(key, to_lkmm=False)
        if head:
            out[f'head.{head.group(1)}'] = value
        elif dense_output_norms and _DENSE_NORM.fullmatch(key):
            out[key] = value  # the dense backbone's L2 output norms
        elif final_norm:
            out[f'norm.{final_norm.group(1)}'] = value
        elif mapped is not None:
            out[mapped[0]] = _relayout(value, mapped[1], key, to_lkmm=False)
        else:
            raise ValueError(f'{key!r} has no counterpart in the released '
                             'ParCNetV2 ImageNet model')
    return out


_require = partial(require_key, family='ParCNetV2')


def _infer_train_size(lengths: List[int], axis: str) -> int:
    """The smallest input size whose stage maps give these kernel lengths
    (``2 * max(1, size // (4 * 2**i)) - 1`` taps in stage i)."""
    if any(k < 1 or k % 2 != 1 for k in lengths):
        raise ValueError('cannot infer the ParCNetV2 arch: oversized '
                         f'kernel lengths ({axis}) {lengths} are not odd')
    bases = [(k + 1) // 2 for k in lengths]
    floor = 4 * 2**(len(lengths) - 1)
    for size in range(max(4 * bases[0], floor), 4 * bases[0] + 4):
        if all(max(1, size // (4 * 2**i)) == b for i, b in enumerate(bases)):
            return size
    raise ValueError(
        f'cannot infer the ParCNetV2 arch: oversized kernel lengths ({axis})'
        f' {lengths} do not come from one input size (stage i of an S x S '
        'input has 2 * (S // (4 * 2**i)) - 1 taps)')


def _read_stage(state_dict: Mapping, i: int, found: Dict[str, list]
                ) -> None:
    """Record stage ``i``'s depth, width, expansion, kernel lengths and
    scales in ``found``.

    Raises:
        ValueError: a key is missing, or blocks of the stage disagree.
    """
    blocks = key_indices(state_dict,
                      re.compile(rf'stages\.{i}\.blocks\.(\d+)\.'))
    if blocks != list(range(len(blocks))):
        raise ValueError(f'cannot infer the ParCNetV2 arch: stage {i} '
                         f'has blocks {blocks}, expected 0..N-1')
    first = f'stages.{i}.blocks.0.'
    c = _require(state_dict, first + 'norm1.weight').shape[0]
    hidden = _require(state_dict, first + 'channel.fc2.weight').shape[1]
    found['expansion'].append(int(hidden / c) if hidden % c == 0
                              else hidden / c)
    found['depths'].append(len(blocks))
    found['channels'].append(c)
    found['lengths_h'].append(_require(
        state_dict, first + 'spatial.global_conv.weight_h').shape[-2])
    found['lengths_w'].append(_require(
        state_dict, first + 'spatial.global_conv.weight_w').shape[-1])
    scaled = {f'stages.{i}.blocks.{b}.res_scale1' in state_dict
              for b in blocks}
    if len(scaled) > 1:
        raise ValueError(
            f'cannot infer the ParCNetV2 arch: only some blocks of '
            f'stage {i} have res_scale; lkmm sets it per stage')
    found['res_scale'].append(scaled.pop())
    found['layer_scale'] += [f'stages.{i}.blocks.{b}.gamma1' in state_dict
                             for b in blocks]


def _release_arch(settings: dict):
    """The ``'release-*'`` zoo name whose settings all match, else the
    settings themselves."""
    for name in ParCNetV2.arch_zoo:
        if name.startswith('release-') and all(
                ParCNetV2.parse_arch(name)[k] == v
                for k, v in settings.items()):
            return name
    return settings


def infer_parcnetv2_kwargs(state_dict: Mapping, dense: bool = False) -> dict:
    """Infer the ``lkmm.ParCNetV2`` arguments that fit an lkmm state dict of
    a release arch.

    Args:
        state_dict (Mapping): lkmm keys, bare or under ``backbone.`` (e.g.
            the output of :func:`convert_parcnetv2_state_dict`; the older
            ``stages.{i}.{b}`` block keys too).
        dense (bool): Dense-prediction form: every stage returned, norms not
            pooled (``out_indices`` all stages,
            ``gap_before_final_norm=False``); otherwise the classification
            form (last stage, pooled). Defaults to False.

    Returns:
        dict: ``arch`` (``'release-xt'`` ... ``'release-base'`` when depths,
        widths and every other setting match one, else a dict of the
        settings), ``train_size`` (from the oversized kernel lengths),
        ``in_channels``, ``out_indices`` and ``gap_before_final_norm``.

    Raises:
        ValueError: Naming the missing key or the inconsistency.
    """
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = strip_prefix(state_dict, 'backbone.', drop_others=True)
    state_dict = ParCNetV2.upgrade_legacy_keys(state_dict)
    stages = key_indices(state_dict, re.compile(r'stages\.(\d+)\.'))
    if not stages or stages != list(range(len(stages))):
        raise ValueError('cannot infer the ParCNetV2 arch: stage indices '
                         f'{stages} are not 0..N-1')
    found = {k: [] for k in ('depths', 'channels', 'expansion', 'res_scale',
                             'lengths_h', 'lengths_w', 'layer_scale')}
    for i in stages:
        _read_stage(state_dict, i, found)
    if len(set(found['layer_scale'])) > 1:
        raise ValueError('cannot infer the ParCNetV2 arch: only some blocks '
                         'have layer scale; lkmm has one switch for all')
    stem = _require(state_dict, 'downsample_layers.0.0.weight')
    local = _require(state_dict,
                     'stages.0.blocks.0.spatial.local_conv.weight')
    settings = dict(
        depths=found['depths'], channels=found['channels'],
        expansion=found['expansion'],
        local_kernel_size=int(local.shape[-1]),
        stem_kernel=int(stem.shape[-1]),
        down_kernel=int(_require(state_dict, 'downsample_layers.1.1.weight')
                        .shape[-1]) if len(stages) > 1 else 3,
        norm='L2LN', block='release', res_scale=found['res_scale'],
        layer_scale=found['layer_scale'][0], resize_kernels=False)
    if len(stages) != 4:
        # Unused by the release block, but parse_arch wants one per stage.
        settings['global_ratios'] = [1.0] * len(stages)
    size_h = _infer_train_size(found['lengths_h'], 'H')
    size_w = _infer_train_size(found['lengths_w'], 'W')
    return dict(
        arch=_release_arch(settings),
        train_size=size_h if size_h == size_w else (size_h, size_w),
        in_channels=int(stem.shape[1]),
        out_indices=tuple(stages) if dense else (len(stages) - 1, ),
        gap_before_final_norm=not dense)


#: ParCNetV2's registered checkpoint mapping (into ``arch='release-*'``).
PARCNETV2_CHECKPOINTS = register_checkpoint_mapping(CheckpointMapping(
    name='parcnetv2',
    model='ParCNetV2',
    source='a released ParCNetV2 checkpoint (XuRuihan/ParCNetV2)',
    formats=PARCNETV2_FORMATS,
    foreign_formats=PARCNETV2_FORMATS,
    detect=detect_parcnetv2_format,
    convert=convert_parcnetv2_state_dict,
    infer_kwargs=lambda state_dict, report: infer_parcnetv2_kwargs(
        state_dict, dense=report.src_format == 'dense'
        and report.target == 'backbone'),
    ema_key='state_dict_ema'))
