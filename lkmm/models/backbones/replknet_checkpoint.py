"""Convert foreign RepLKNet checkpoints into lkmm's ``RepLKNet`` layout.

Three source layouts are accepted; the two foreign ones use the *same module
names* (mmpretrain copied the official model's module tree):

* ``'official'`` -- `DingXiaoH/RepLKNet-pytorch`_ ``replknet.py``: top-level
  ``stem.{k}``, ``stages.{i}.blocks.{b}`` (even ``b``: RepLK Block with
  ``prelkb_bn``, ``pw1``, ``large_kernel.lkb_origin`` / ``.small_conv`` or
  the merged ``large_kernel.lkb_reparam``, ``pw2``; odd ``b``: ConvFFN with
  ``preffn_bn``, ``pw1``, ``pw2``), ``stages.{i}.norm`` (only with
  ``norm_intermediate_features``), ``transitions.{i}.{0,1}`` and, for the
  classification model, ``norm`` (BN before pooling) and ``head``
  (``nn.Linear``).
* ``'mmpretrain'`` -- mmpretrain's ``RepLKNet`` inside an ``ImageClassifier``:
  the same backbone names under ``backbone.``, a ``stages.{i}.norm`` for
  every stage in ``out_indices`` (so the classifier's final BN is
  ``backbone.stages.3.norm``), and the head ``head.fc``. The official
  repository's mmseg/mmdet checkpoints also keep the backbone under
  ``backbone.`` and are detected as this format; their decode/ROI heads are
  reported as unknown keys.
* ``'lkmm'`` -- already lkmm names (re-targeted only, e.g. bare backbone to
  classifier form).

Targets (the convention of ``tools/model_converters/replknet_to_lkmm.py``):

* ``'classifier'`` (default): keys of an mmpretrain ``ImageClassifier`` with
  ``backbone=dict(type='lkmm.RepLKNet', ..., final_norm=True)``, neck
  ``GlobalAveragePooling`` and ``LinearClsHead``: ``backbone.*`` (the
  pre-pooling BN as ``backbone.norm3``) and ``head.fc.*``. The same file
  initializes a downstream backbone with
  ``init_cfg=dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``.
* ``'backbone'``: bare ``lkmm.RepLKNet`` keys, no head; load it downstream
  with ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (no prefix).

.. _DingXiaoH/RepLKNet-pytorch: https://github.com/DingXiaoH/RepLKNet-pytorch
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
    KeyMapper,
    check_against_model,
    check_choice,
    fill_bn_counters,
    key_indices,
    register_checkpoint_mapping,
    require_key,
)
from lkmm.utils.state_dict import (
    extract_state_dict,
    strip_prefix,
)

__all__ = [
    'REPLKNET_FORMATS', 'REPLKNET_TARGETS', 'REPLKNET_CHECKPOINTS',
    'detect_replknet_format', 'convert_replknet_state_dict',
    'infer_replknet_kwargs'
]

REPLKNET_FORMATS = ('official', 'mmpretrain', 'lkmm')
REPLKNET_TARGETS = TARGETS

# Which parameters each kind of module may hold; anything else is unknown.
_PARAMS = {
    'conv': 'weight',
    'conv_bias': 'weight|bias',
    'bn': 'weight|bias|running_mean|running_var|num_batches_tracked',
}
_EVEN, _ODD = 0, 1  # RepLK Blocks sit at even, ConvFFNs at odd block indices


@dataclass
class _Rule:
    """``pattern`` (full match, named groups) -> ``template`` (str.format)."""
    pattern: re.Pattern
    template: str
    parity: Optional[int] = None  # required parity of the block index 'b'

    def apply(self, key: str) -> Optional[str]:
        match = self.pattern.fullmatch(key)
        if match is None:
            return None
        groups = match.groupdict()
        if self.parity is not None and int(groups['b']) % 2 != self.parity:
            return None
        return self.template.format(**groups)


def _rule(src: str, dst: str, params: str, parity=None) -> _Rule:
    return _Rule(
        re.compile(src + rf'\.(?P<param>{_PARAMS[params]})'),
        dst + '.{param}', parity)


_OFF_BLOCK = r'stages\.(?P<i>\d+)\.blocks\.(?P<b>\d+)'
_LK_BLOCK = r'stages\.(?P<i>\d+)\.(?P<b>\d+)'
_DST_BLOCK = 'stages.{i}.{b}'
_STEM = [
    _rule(r'stem\.(?P<s>[0-3])\.conv', 'stem.{s}.conv', 'conv'),
    _rule(r'stem\.(?P<s>[0-3])\.bn', 'stem.{s}.bn', 'bn'),
]
_TRANSITIONS = [
    _rule(r'transitions\.(?P<i>\d+)\.(?P<t>[01])\.conv',
          'transitions.{i}.{t}.conv', 'conv'),
    _rule(r'transitions\.(?P<i>\d+)\.(?P<t>[01])\.bn',
          'transitions.{i}.{t}.bn', 'bn'),
]

# Backbone keys in official (== mmpretrain) naming -> lkmm names.
_OFFICIAL_RULES = _STEM + _TRANSITIONS + [
    _rule(_OFF_BLOCK + r'\.prelkb_bn', _DST_BLOCK + '.pre_norm', 'bn',
          _EVEN),
    _rule(_OFF_BLOCK + r'\.preffn_bn', _DST_BLOCK + '.pre_norm', 'bn', _ODD),
    _rule(_OFF_BLOCK + r'\.(?P<pw>pw[12])\.conv', _DST_BLOCK + '.{pw}.conv',
          'conv'),
    _rule(_OFF_BLOCK + r'\.(?P<pw>pw[12])\.bn', _DST_BLOCK + '.{pw}.bn',
          'bn'),
    _rule(_OFF_BLOCK + r'\.large_kernel\.lkb_origin\.conv',
          _DST_BLOCK + '.large_kernel.large_conv.conv', 'conv', _EVEN),
    _rule(_OFF_BLOCK + r'\.large_kernel\.lkb_origin\.bn',
          _DST_BLOCK + '.large_kernel.large_conv.bn', 'bn', _EVEN),
    _rule(_OFF_BLOCK + r'\.large_kernel\.small_conv\.conv',
          _DST_BLOCK + '.large_kernel.small_conv.conv', 'conv', _EVEN),
    _rule(_OFF_BLOCK + r'\.large_kernel\.small_conv\.bn',
          _DST_BLOCK + '.large_kernel.small_conv.bn', 'bn', _EVEN),
    _rule(_OFF_BLOCK + r'\.large_kernel\.lkb_reparam',
          _DST_BLOCK + '.large_kernel.fused_conv', 'conv_bias', _EVEN),
    _rule(r'stages\.(?P<i>\d+)\.norm', 'norm{i}', 'bn'),
]

# lkmm backbone keys are kept as they are, but still validated.
_LKMM_RULES = _STEM + _TRANSITIONS + [
    _rule(_LK_BLOCK + r'\.pre_norm', _DST_BLOCK + '.pre_norm', 'bn'),
    _rule(_LK_BLOCK + r'\.(?P<pw>pw[12])\.conv', _DST_BLOCK + '.{pw}.conv',
          'conv'),
    _rule(_LK_BLOCK + r'\.(?P<pw>pw[12])\.bn', _DST_BLOCK + '.{pw}.bn', 'bn'),
    _rule(_LK_BLOCK + r'\.large_kernel\.(?P<br>large_conv|small_conv)\.conv',
          _DST_BLOCK + '.large_kernel.{br}.conv', 'conv', _EVEN),
    _rule(_LK_BLOCK + r'\.large_kernel\.(?P<br>large_conv|small_conv)\.bn',
          _DST_BLOCK + '.large_kernel.{br}.bn', 'bn', _EVEN),
    _rule(_LK_BLOCK + r'\.large_kernel\.fused_conv',
          _DST_BLOCK + '.large_kernel.fused_conv', 'conv_bias', _EVEN),
    # out_norm{i}: lkmm's earlier name of the output norms.
    _rule(r'(?:out_)?norm(?P<i>\d+)', 'norm{i}', 'bn'),
]

# Block keys that identify each layout (after ``module.`` is removed).
_FORMAT_PATTERNS = {
    'official': re.compile(r'stages\.\d+\.blocks\.\d+\.'),
    'mmpretrain': re.compile(r'backbone\.stages\.\d+\.blocks\.\d+\.'),
    'lkmm': re.compile(r'(backbone\.)?stages\.\d+\.\d+\.'),
}


def detect_replknet_format(state_dict: Mapping) -> str:
    """Tell which RepLKNet layout a (possibly wrapped) state dict uses.

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (see
            :func:`extract_state_dict`).

    Returns:
        str: ``'official'``, ``'mmpretrain'`` or ``'lkmm'``.

    Raises:
        ValueError: If no RepLKNet block keys are found, or the keys mix
            layouts.
    """
    keys = list(extract_state_dict(state_dict))
    found = [fmt for fmt, pattern in _FORMAT_PATTERNS.items()
             if any(pattern.match(k) for k in keys)]
    # match() anchors at the start, so 'backbone.stages.0.blocks.0.x' is
    # mmpretrain only, never official.
    if not found:
        raise ValueError(
            'not a RepLKNet checkpoint: found no block keys like '
            "'stages.0.blocks.0.*' (official), "
            "'backbone.stages.0.blocks.0.*' (mmpretrain) or "
            "'[backbone.]stages.0.0.*' (lkmm); first keys are "
            f'{keys[:5]}')
    if len(found) > 1:
        raise ValueError(f'the state dict mixes RepLKNet layouts {found}; '
                         'convert one model at a time')
    return found[0]


def _map_backbone_key(key: str, rules: List[_Rule]) -> Optional[str]:
    for rule in rules:
        dst = rule.apply(key)
        if dst is not None:
            return dst
    return None


def _split_source(state_dict, src_format):
    """Sort source keys into backbone / head / unknown, per format.

    Returns:
        tuple: ``(backbone, head, unknown)``; backbone and head map the
        source key to ``(key in the layout's backbone naming or the lkmm
        head name, tensor)``.
    """
    backbone, head, unknown = OrderedDict(), OrderedDict(), []
    if src_format == 'official':
        stages = [int(m.group(1)) for m in
                  (re.match(r'stages\.(\d+)\.', k) for k in state_dict) if m]
        last = max(stages) if stages else 0
        for key, value in state_dict.items():
            head_match = re.fullmatch(r'head\.(weight|bias)', key)
            norm_match = re.fullmatch(r'norm\.(\w+)', key)
            if head_match:
                head[key] = (f'head.fc.{head_match.group(1)}', value)
            elif norm_match:
                # The classification model's BN before pooling is lkmm's
                # final norm{i} (lkmm's final_norm=True).
                backbone[key] = (f'stages.{last}.norm.{norm_match.group(1)}',
                                 value)
            else:
                backbone[key] = (key, value)
        return backbone, head, unknown
    for key, value in state_dict.items():
        if re.fullmatch(r'head\.fc\.(weight|bias)', key):
            head[key] = (key, value)
        elif key.startswith('backbone.'):
            backbone[key] = (key[len('backbone.'):], value)
        elif src_format == 'lkmm':  # a bare lkmm backbone
            backbone[key] = (key, value)
        else:
            unknown.append(key)
    return backbone, head, unknown


def convert_replknet_state_dict(
        state_dict: Mapping,
        src_format: Optional[str] = None,
        target: str = 'classifier',
        use_ema: bool = False,
        model: Optional[nn.Module] = None
) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """Map every key of a RepLKNet checkpoint to lkmm's names.

    Tensors are not copied or changed (only renamed), except that missing BN
    ``num_batches_tracked`` entries are created (0).

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (wrapped as
            ``{'state_dict': ...}`` or ``{'model': ...}``; ``module.``
            prefixes are removed).
        src_format (str, optional): ``'official'``, ``'mmpretrain'`` or
            ``'lkmm'``; detected when None or ``'auto'``.
        target (str): ``'classifier'`` for mmpretrain ``ImageClassifier``
            keys (``backbone.*``, ``head.fc.*``) or ``'backbone'`` for bare
            ``lkmm.RepLKNet`` keys. Defaults to ``'classifier'``.
        use_ema (bool): Must be False: RepLKNet's releases hold no EMA
            weights. Defaults to False.
        model (nn.Module, optional): A model whose ``state_dict()`` has the
            target layout, to check against (nothing is built here): its
            missing and unexpected keys go to the report, shapes that
            differ are errors.

    Returns:
        tuple[OrderedDict, ConversionReport]: The converted state dict and
        the report (unknown source keys are left out and listed there).

    Raises:
        ValueError: For an unknown ``src_format`` / ``target``, a
            non-RepLKNet input, two source keys mapping to one target key,
            or when no key could be converted at all.
    """
    check_choice(target, REPLKNET_TARGETS, 'target')
    if use_ema:
        raise ValueError('use_ema: RepLKNet checkpoints hold no EMA weights')
    state_dict = extract_state_dict(state_dict)
    if src_format in (None, 'auto'):
        src_format = detect_replknet_format(state_dict)
    check_choice(src_format, REPLKNET_FORMATS, 'src_format')
    report = ConversionReport(src_format=src_format, target=target)
    out = _map_keys(state_dict, report)
    fill_bn_counters(out, report)
    report.num_tensors = len(out)
    if model is not None:
        check_against_model(out, report, model)
    return out, report


def _map_keys(state_dict: Mapping, report: ConversionReport
              ) -> Dict[str, torch.Tensor]:
    """Rename backbone and head keys for ``report.target``; unknown and
    dropped keys are listed in ``report``."""
    rules = _LKMM_RULES if report.src_format == 'lkmm' else _OFFICIAL_RULES
    backbone, head, report.unknown = _split_source(state_dict,
                                                   report.src_format)
    prefix = 'backbone.' if report.target == 'classifier' else ''
    mapper = KeyMapper(report, record=False)
    for src, (name, value) in backbone.items():
        dst = _map_backbone_key(name, rules)
        if dst is None:
            report.unknown.append(src)
        else:
            mapper.put(prefix + dst, src, value)
    if not mapper.out:
        raise ValueError(
            f'no RepLKNet backbone weights could be converted from this '
            f'{report.src_format}-format state dict; unknown keys: '
            f'{report.unknown[:10]}')
    for src, (name, value) in head.items():
        if report.target == 'backbone':
            report.dropped.append(src)
        else:
            mapper.put(name, src, value)
    if report.target == 'classifier' and not head:
        report.missing += ['head.fc.weight', 'head.fc.bias']
    return mapper.out


_require = partial(require_key, family='RepLKNet')


def _infer_ratio(name, widths, channels):
    """The ratio r with ``int(c * r) == width`` for every stage."""
    for width, c in zip(widths, channels):
        ratio = width / c
        if ratio.is_integer():
            ratio = int(ratio)
        if all(int(cc * ratio) == w for w, cc in zip(widths, channels)):
            return ratio
    raise ValueError(
        f'cannot infer the RepLKNet arch: {name} widths {widths} are not '
        f'one ratio of the stage channels {channels}')


def _infer_stage(state_dict: Mapping, i: int) -> dict:
    """Channels, blocks, widths and kernels of stage ``i``.

    Raises:
        ValueError: blocks are not RepLK Block / ConvFFN pairs, or the
            stage mixes large kernel sizes.
    """
    blocks = key_indices(state_dict, re.compile(rf'stages\.{i}\.(\d+)\.'))
    if blocks != list(range(len(blocks))) or len(blocks) % 2:
        raise ValueError(
            f'cannot infer the RepLKNet arch: stage {i} has blocks '
            f'{blocks}, expected RepLK Block / ConvFFN pairs 0..2B-1')
    stage = dict(
        channels=_require(state_dict,
                          f'stages.{i}.0.pre_norm.weight').shape[0],
        layers=len(blocks) // 2,
        dw_width=_require(state_dict,
                          f'stages.{i}.0.pw1.conv.weight').shape[0],
        ffn_width=_require(state_dict,
                           f'stages.{i}.1.pw1.conv.weight').shape[0],
        kernels=set(), small_kernels=set(), deployed=set())
    for b in blocks[::2]:
        lk = f'stages.{i}.{b}.large_kernel'
        is_fused = f'{lk}.fused_conv.weight' in state_dict
        stage['deployed'].add(is_fused)
        weight = _require(state_dict, f'{lk}.fused_conv.weight' if is_fused
                          else f'{lk}.large_conv.conv.weight')
        stage['kernels'].add(weight.shape[-1])
        if not is_fused:
            small = state_dict.get(f'{lk}.small_conv.conv.weight')
            stage['small_kernels'].add(
                None if small is None else small.shape[-1])
    if len(stage['kernels']) > 1:
        raise ValueError(
            f'cannot infer the RepLKNet arch: stage {i} mixes large '
            f'kernel sizes {sorted(stage["kernels"])}; lkmm.RepLKNet uses '
            'one per stage')
    return stage


def _infer_arch(state_dict: Mapping, stages: List[int]
                ) -> Tuple[dict, bool]:
    """The ``arch`` dict of :func:`infer_replknet_kwargs`, and whether the
    blocks are deployed."""
    found = [_infer_stage(state_dict, i) for i in stages]
    deployed = set().union(*(s['deployed'] for s in found))
    small_kernels = set().union(*(s['small_kernels'] for s in found))
    if len(deployed) > 1:
        raise ValueError('cannot infer the RepLKNet arch: some large kernels '
                         'are deployed (fused_conv) and some are not')
    if len(small_kernels) > 1:
        raise ValueError('cannot infer the RepLKNet arch: RepLK Blocks '
                         f'disagree on the small kernel: {small_kernels}')
    is_deployed = deployed.pop()
    channels = [s['channels'] for s in found]
    return dict(
        channels=channels,
        layers=[s['layers'] for s in found],
        kernel_sizes=[next(iter(s['kernels'])) for s in found],
        small_kernel=None if is_deployed else small_kernels.pop(),
        dw_ratio=_infer_ratio('depth-wise', [s['dw_width'] for s in found],
                              channels),
        ffn_ratio=_infer_ratio('ConvFFN', [s['ffn_width'] for s in found],
                               channels)), is_deployed


def infer_replknet_kwargs(state_dict: Mapping) -> dict:
    """Infer the ``lkmm.RepLKNet`` arguments that fit an lkmm state dict.

    Args:
        state_dict (Mapping): lkmm keys, bare or under ``backbone.`` (e.g.
            the output of :func:`convert_replknet_state_dict`).

    Returns:
        dict: Keyword arguments for ``lkmm.RepLKNet``: ``arch`` (a dict with
        ``channels``, ``layers``, ``kernel_sizes``, ``small_kernel`` -- None
        for a deployed checkpoint, whose small kernels are deployed in --,
        ``dw_ratio``, ``ffn_ratio``), ``in_channels``, ``out_indices``,
        ``final_norm``, ``norm_intermediate_features`` and ``deploy``.

    Raises:
        ValueError: Naming the key or the inconsistency that prevents it
            (missing block, kernels that differ within a stage, deployed and
            training-form blocks mixed, ...).
    """
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = strip_prefix(state_dict, 'backbone.', drop_others=True)
    stages = key_indices(state_dict, re.compile(r'stages\.(\d+)\.'))
    if not stages or stages != list(range(len(stages))):
        raise ValueError('cannot infer the RepLKNet arch: stage indices '
                         f'{stages} are not 0..N-1')
    arch, is_deployed = _infer_arch(state_dict, stages)
    last = len(stages) - 1
    norms = key_indices(state_dict, re.compile(r'(?:out_)?norm(\d+)\.'))
    if any(i > last for i in norms):
        raise ValueError(f'cannot infer the RepLKNet arch: norm indices '
                         f'{norms} exceed the last stage {last}')
    kwargs = dict(
        arch=arch,
        in_channels=_require(state_dict, 'stem.0.conv.weight').shape[1],
        out_indices=(last, ),
        final_norm=False,
        norm_intermediate_features=False,
        deploy=is_deployed)
    if norms == [last]:
        kwargs['final_norm'] = True
    elif norms:
        # A norm on an earlier stage only exists for a returned stage that
        # is normalized, i.e. norm_intermediate_features.
        kwargs.update(out_indices=tuple(norms),
                      norm_intermediate_features=True)
    return kwargs


#: RepLKNet's registered checkpoint mapping.
REPLKNET_CHECKPOINTS = register_checkpoint_mapping(CheckpointMapping(
    name='replknet',
    model='RepLKNet',
    source='an official (DingXiaoH/RepLKNet-pytorch) or mmpretrain '
    'RepLKNet checkpoint',
    formats=REPLKNET_FORMATS,
    foreign_formats=('official', 'mmpretrain'),
    detect=detect_replknet_format,
    convert=convert_replknet_state_dict,
    infer_kwargs=lambda state_dict, report: infer_replknet_kwargs(
        state_dict),
    classifier_neck=dict(type='GlobalAveragePooling')))
