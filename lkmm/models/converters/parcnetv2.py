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

Targets (as :mod:`lkmm.models.converters.replknet`):

* ``'classifier'`` (default): mmpretrain ``ImageClassifier`` keys with
  ``backbone=dict(type='lkmm.ParCNetV2', arch='release-*')`` (it pools
  before its final norm, ``gap_before_final_norm=True``), no neck and a
  ``LinearClsHead``, as configs/parcnetv2: ``backbone.*`` and
  ``head.fc.*``.
* ``'backbone'``: bare ``lkmm.ParCNetV2`` keys, no head.

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
from typing import Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from .common import (
    ConversionReport,
    build_lkmm_classifier,
    compare_state_dict_with_model,
    extract_state_dict,
    head_num_classes,
    released_layout,
)

__all__ = [
    'PARCNETV2_FORMATS', 'PARCNETV2_TARGETS', 'detect_parcnetv2_format',
    'convert_parcnetv2_state_dict', 'check_against_model',
    'lkmm_to_parcnetv2_state_dict',
    'infer_parcnetv2_kwargs', 'build_parcnetv2_model'
]

PARCNETV2_FORMATS = ('classification', 'dense')
PARCNETV2_TARGETS = ('classifier', 'backbone')

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
    _KeyRule('stages.{i}.{b}.' + src, 'stages.{i}.{b}.' + dst, layout)
    for src, dst, layout in _BLOCK_RULES
]
_TO_LKMM = [(_template_regex(r.released), r) for r in _RULES]
_TO_RELEASED = [(_template_regex(r.lkmm), r) for r in _RULES]

# Block keys that tell the layouts apart.
_RELEASED_BLOCK = re.compile(r'stages\.\d+\.\d+\.(token_mixer|mlp)\.')
_DENSE_BLOCK = re.compile(r'backbone\.stages\.\d+\.\d+\.(token_mixer|mlp)\.')
_DENSE_NORM = re.compile(r'(backbone\.)?norm(?P<i>\d+)\.weight')
_LKMM_BLOCK = re.compile(r'(backbone\.)?stages\.\d+\.\d+\.(spatial|channel)\.')

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
            :func:`lkmm.models.converters.extract_state_dict`).

    Returns:
        str: ``'classification'`` (the ImageNet model, bare block keys
        ``stages.{i}.{b}.token_mixer.*``) or ``'dense'`` (the mmseg/mmdet
        backbone: block keys under ``backbone.``, or bare block keys with
        ``norm{i}`` output norms).

    Raises:
        ValueError: If no released block keys are found (naming the keys
            expected), the keys are already lkmm's, or layouts are mixed.
    """
    keys = list(extract_state_dict(state_dict))
    bare = any(_RELEASED_BLOCK.match(k) for k in keys)
    prefixed = any(_DENSE_BLOCK.match(k) for k in keys)
    layout = released_layout(keys, bare, prefixed, _DENSE_NORM, 'ParCNetV2')
    if layout is not None:
        return layout
    if any(_LKMM_BLOCK.match(k) for k in keys):
        raise ValueError(
            'this is already an lkmm ParCNetV2 state dict (keys like '
            "'stages.0.0.spatial.*'); load it directly")
    raise ValueError(
        'not a released ParCNetV2 checkpoint: found no block keys like '
        "'stages.0.0.token_mixer.pwconv1.weight' (ImageNet model, "
        "XuRuihan/ParCNetV2 models/parcnetv2.py) or "
        "'backbone.stages.0.0.token_mixer.pwconv1.weight' (its mmseg / "
        f'mmdet backbone); first keys are {keys[:5]}')


def convert_parcnetv2_state_dict(
        state_dict: Mapping,
        src_format: Optional[str] = None,
        target: str = 'classifier',
        model: Optional[nn.Module] = None,
        use_ema: bool = False,
        check: bool = True
) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """Map every key of a released ParCNetV2 checkpoint to lkmm's names.

    Tensors are renamed and, where the layouts differ, reshaped (views, no
    copies); nothing else changes. The result is checked against ``model``,
    or else (``check=True``) against the lkmm model inferred from it
    (:func:`check_against_model`): its missing and unexpected keys go to
    the report, shape mismatches are errors.

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (wrapped as
            ``{'state_dict': ...}`` or ``{'model': ...}``; ``module.``
            prefixes are removed).
        src_format (str, optional): ``'classification'`` or ``'dense'``;
            detected when None or ``'auto'``.
        target (str): ``'classifier'`` for mmpretrain ``ImageClassifier``
            keys (``backbone.*``, ``head.fc.*``) or ``'backbone'`` for bare
            ``lkmm.ParCNetV2`` keys. Defaults to ``'classifier'``.
        model (nn.Module, optional): A model whose ``state_dict()`` has the
            target layout; None: the one :func:`infer_parcnetv2_kwargs` and
            :func:`build_parcnetv2_model` give.
        use_ema (bool): Take timm's ``state_dict_ema`` instead of
            ``state_dict``. Defaults to False.
        check (bool): Without ``model``, build the inferred model (on the
            CPU, randomly initialized) to check against; False skips the
            check (the report then lacks the model's missing keys).
            Defaults to True.

    Returns:
        tuple[OrderedDict, ConversionReport]: The converted state dict and
        the report (source keys not used are left out and listed as
        ``unknown``; lkmm keys not filled as ``missing``).

    Raises:
        ValueError: For an unknown ``src_format`` / ``target``, a
            non-ParCNetV2 input, a tensor whose shape does not fit its
            layout or the model (naming the key and both shapes), two
            source keys mapping to one target key, or when no key could be
            converted.
    """
    if target not in PARCNETV2_TARGETS:
        raise ValueError(f'target must be one of {PARCNETV2_TARGETS}, got '
                         f'{target!r}')
    if use_ema:
        if not isinstance(state_dict, Mapping) or not isinstance(
                state_dict.get('state_dict_ema'), Mapping):
            keys = list(state_dict)[:10] if isinstance(
                state_dict, Mapping) else type(state_dict).__name__
            raise ValueError("use_ema: the checkpoint has no "
                             f"'state_dict_ema' (top-level keys: {keys})")
        state_dict = extract_state_dict(state_dict, ('state_dict_ema', ))
    else:
        state_dict = extract_state_dict(state_dict)
    if src_format in (None, 'auto'):
        src_format = detect_parcnetv2_format(state_dict)
    elif src_format not in PARCNETV2_FORMATS:
        raise ValueError(f'src_format must be "auto" or one of '
                         f'{PARCNETV2_FORMATS}, got {src_format!r}')
    report = ConversionReport(src_format=src_format, target=target)
    stages = [s for s in map(_stage_of, state_dict) if s is not None]
    last = max(stages) if stages else 0
    prefix = 'backbone.' if target == 'classifier' else ''
    # The dense layout keeps the backbone under 'backbone.' in segmentor /
    # detector checkpoints (bare when saved from the backbone alone).
    src_prefix = ''
    if src_format == 'dense' and any(
            k.startswith('backbone.') for k in state_dict):
        src_prefix = 'backbone.'
    out, source_of = OrderedDict(), {}
    extra_biases, has_head = [], False

    def put(dst, src, value, layout=_SAME):
        if dst in out:
            raise ValueError(f'source keys {source_of[dst]!r} and {src!r} '
                             f'both map to {dst!r}')
        new = _relayout(value, layout, src, to_lkmm=True)
        out[dst], source_of[dst] = new, src
        report.matched.append(f'{src} -> {dst}')
        if layout != _SAME:
            report.reshaped.append(f'{src} -> {dst}: '
                                   f'{tuple(value.shape)} -> '
                                   f'{tuple(new.shape)}')

    for src, value in state_dict.items():
        if not src.startswith(src_prefix):
            report.unknown.append(src)
            continue
        name = src[len(src_prefix):]
        head = re.fullmatch(r'head\.(weight|bias)', name)
        final_norm = re.fullmatch(r'norm\.(weight|bias)', name)
        mapped = _map_key(name, to_lkmm=True)
        if src_format == 'classification' and head:
            has_head = True
            if target == 'backbone':
                report.dropped.append(src)
            else:
                put(f'head.fc.{head.group(1)}', src, value)
        elif src_format == 'classification' and final_norm:
            # nn.LayerNorm on the pooled features: lkmm's norm of the last
            # stage with gap_before_final_norm=True.
            put(f'{prefix}norm{last}.{final_norm.group(1)}', src, value)
        elif src_format == 'dense' and _DENSE_NORM.fullmatch(name):
            # The release's L2 output norm (weight only), as lkmm's
            # release archs build norm{i} for dense prediction.
            put(prefix + name, src, value)
        elif mapped is not None:
            put(prefix + mapped[0], src, value, mapped[1])
        else:
            report.unknown.append(src)
            if name.startswith('stages.') and name.endswith('.bias'):
                extra_biases.append(src)
    if not out:
        raise ValueError(
            f'no ParCNetV2 weights could be converted from this '
            f'{src_format}-format state dict; unknown keys: '
            f'{report.unknown[:10]}')
    if extra_biases:
        report.notes.append(_BIAS_NOTE.format(keys=extra_biases[:10]))
    if target == 'classifier' and not has_head:
        report.missing += ['head.fc.weight', 'head.fc.bias']
    report.num_tensors = len(out)

    if model is None and check:
        model = build_parcnetv2_model(
            infer_parcnetv2_kwargs(
                out, dense=src_format == 'dense' and target == 'backbone'),
            target, head_num_classes(out))
    if model is not None:
        check_against_model(out, report, model)
    return out, report


def check_against_model(state_dict: Mapping, report: ConversionReport,
                        model: nn.Module) -> None:
    """Add the model's missing / unexpected keys to a report; raise on
    shape mismatches.

    Args:
        state_dict (Mapping): Converted state dict.
        report (ConversionReport): Its report; ``missing``, ``unexpected``
            and ``mismatched`` are updated.
        model (nn.Module): A model with the target layout.

    Raises:
        ValueError: Naming each converted key whose shape differs from the
            model's, both shapes and the source key.
    """
    missing, report.unexpected, report.mismatched = \
        compare_state_dict_with_model(state_dict, model)
    report.missing = list(dict.fromkeys(report.missing + missing))
    if report.mismatched:
        source_of = dict(m.split(' -> ')[::-1] for m in report.matched)
        raise ValueError(
            'shapes differ from the lkmm model (converted key: checkpoint '
            'shape vs model shape [source key]): ' + '; '.join(
                f'{m} [{source_of.get(m.split(":")[0], "?")}]'
                for m in report.mismatched))


def lkmm_to_parcnetv2_state_dict(
        state_dict: Mapping) -> Dict[str, torch.Tensor]:
    """The inverse mapping: an lkmm release-arch classifier (or backbone)
    state dict in the released ImageNet model's layout.

    Args:
        state_dict (Mapping): ``lkmm.ParCNetV2`` keys (release arch, output
            norm on the last stage only), bare or as an ``ImageClassifier``
            (``backbone.*``, ``head.fc.*``).

    Returns:
        OrderedDict[str, Tensor]: Released keys (``stages.*``,
        ``downsample_layers.*``, ``norm.*``, ``head.*``).

    Raises:
        ValueError: Naming a key the released layout has no place for
            (e.g. an output norm of an earlier stage, a paper-form block).
    """
    state_dict = extract_state_dict(state_dict)
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = OrderedDict(
            (k[len('backbone.'):] if k.startswith('backbone.') else k, v)
            for k, v in state_dict.items())
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


def _require(state_dict, key):
    if key not in state_dict:
        raise ValueError(
            f'cannot infer the ParCNetV2 arch: key {key!r} is missing')
    return state_dict[key]


def _indices(keys, pattern):
    """Sorted distinct ints captured by ``pattern`` (one group) in keys."""
    return sorted({int(m.group(1)) for m in map(pattern.match, keys) if m})


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


def infer_parcnetv2_kwargs(state_dict: Mapping, dense: bool = False) -> dict:
    """Infer the ``lkmm.ParCNetV2`` arguments that fit an lkmm state dict of
    a release arch.

    Args:
        state_dict (Mapping): lkmm keys, bare or under ``backbone.`` (e.g.
            the output of :func:`convert_parcnetv2_state_dict`).
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
    from ..backbones.parcnetv2 import ParCNetV2
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {k[len('backbone.'):]: v for k, v in state_dict.items()
                      if k.startswith('backbone.')}
    stages = _indices(state_dict, re.compile(r'stages\.(\d+)\.'))
    if not stages or stages != list(range(len(stages))):
        raise ValueError('cannot infer the ParCNetV2 arch: stage indices '
                         f'{stages} are not 0..N-1')
    depths, channels, expansion, res_scale = [], [], [], []
    lengths_h, lengths_w, layer_scale = [], [], set()
    for i in stages:
        blocks = _indices(state_dict, re.compile(rf'stages\.{i}\.(\d+)\.'))
        if blocks != list(range(len(blocks))):
            raise ValueError(f'cannot infer the ParCNetV2 arch: stage {i} '
                             f'has blocks {blocks}, expected 0..N-1')
        first = f'stages.{i}.0.'
        c = _require(state_dict, first + 'norm1.weight').shape[0]
        hidden = _require(state_dict,
                          first + 'channel.fc2.weight').shape[1]
        expansion.append(int(hidden / c) if hidden % c == 0 else hidden / c)
        depths.append(len(blocks))
        channels.append(c)
        lengths_h.append(_require(
            state_dict, first + 'spatial.global_conv.weight_h').shape[-2])
        lengths_w.append(_require(
            state_dict, first + 'spatial.global_conv.weight_w').shape[-1])
        scaled = {f'stages.{i}.{b}.res_scale1' in state_dict
                  for b in blocks}
        if len(scaled) > 1:
            raise ValueError(
                f'cannot infer the ParCNetV2 arch: only some blocks of '
                f'stage {i} have res_scale; lkmm sets it per stage')
        res_scale.append(scaled.pop())
        layer_scale |= {f'stages.{i}.{b}.gamma1' in state_dict
                        for b in blocks}
    if len(layer_scale) > 1:
        raise ValueError('cannot infer the ParCNetV2 arch: only some blocks '
                         'have layer scale; lkmm has one switch for all')
    stem = _require(state_dict, 'downsample_layers.0.0.weight')
    local = _require(state_dict, 'stages.0.0.spatial.local_conv.weight')
    settings = dict(
        depths=depths, channels=channels, expansion=expansion,
        local_kernel_size=int(local.shape[-1]),
        stem_kernel=int(stem.shape[-1]),
        down_kernel=int(_require(state_dict, 'downsample_layers.1.1.weight')
                        .shape[-1]) if len(stages) > 1 else 3,
        norm='L2LN', block='release', res_scale=res_scale,
        layer_scale=layer_scale.pop(), resize_kernels=False)
    if len(stages) != 4:
        # Unused by the release block, but parse_arch wants one per stage.
        settings['global_ratios'] = [1.0] * len(stages)
    arch = settings
    for name in ParCNetV2.arch_zoo:
        if not name.startswith('release-'):
            continue
        zoo = ParCNetV2.parse_arch(name)
        if all(zoo[k] == v for k, v in settings.items()):
            arch = name
            break
    size_h = _infer_train_size(lengths_h, 'H')
    size_w = _infer_train_size(lengths_w, 'W')
    last = len(stages) - 1
    return dict(
        arch=arch,
        train_size=size_h if size_h == size_w else (size_h, size_w),
        in_channels=int(stem.shape[1]),
        out_indices=tuple(stages) if dense else (last, ),
        gap_before_final_norm=not dense)


def build_parcnetv2_model(backbone_kwargs: dict,
                          target: str = 'classifier',
                          num_classes: Optional[int] = None
                          ) -> nn.Module:
    """Build the lkmm model whose state dict layout is ``target``.

    Args:
        backbone_kwargs (dict): ``lkmm.ParCNetV2`` arguments, e.g. from
            :func:`infer_parcnetv2_kwargs`.
        target (str): ``'backbone'`` for a bare ``lkmm.ParCNetV2``;
            ``'classifier'`` for an mmpretrain ``ImageClassifier`` without
            neck (the backbone pools) and with a ``LinearClsHead``.
            Defaults to ``'classifier'``.
        num_classes (int, optional): Classes of the ``LinearClsHead``; no
            head is built when None (classifier target only).

    Returns:
        nn.Module: The model (weights not initialized from any checkpoint).
    """
    if target not in PARCNETV2_TARGETS:
        raise ValueError(f'target must be one of {PARCNETV2_TARGETS}, got '
                         f'{target!r}')
    from lkmm.registry import MODELS as LKMM_MODELS
    if target == 'backbone':
        return LKMM_MODELS.build(
            dict(type='lkmm.ParCNetV2', **backbone_kwargs))
    from ..backbones.parcnetv2 import ParCNetV2
    return build_lkmm_classifier(
        dict(type='lkmm.ParCNetV2', **backbone_kwargs),
        ParCNetV2.parse_arch(backbone_kwargs['arch'])['channels'][-1],
        num_classes)  # no neck: the backbone pools
