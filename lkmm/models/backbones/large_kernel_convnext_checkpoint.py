"""Convert the authors' released SLaK checkpoints into lkmm's layout.

Source layouts (`VITA-Group/SLaK`_, ``models/SLaK.py``):

* ``'classification'`` -- the ImageNet model, saved by its ConvNeXt-style
  ``main.py`` under ``model`` (and the EMA copy under ``model_ema``):
  ``downsample_layers.0`` (stem: ``0`` conv 4x4 stride 4, ``1``
  channels-first LayerNorm), ``downsample_layers.{1..3}`` (``0``
  LayerNorm, ``1`` conv 2x2 stride 2), blocks directly in
  ``stages.{i}.{b}`` (``large_kernel.LoRA1`` -- the ``(K, w)`` conv + BN,
  ``large_kernel.LoRA2`` -- the ``(w, K)`` conv + BN, ``large_kernel.
  small_conv`` -- the ``k x k`` conv + BN, each with ``conv.weight`` and
  ``bn.{weight, bias, running_mean, running_var, num_batches_tracked}``;
  ``norm`` channels-last LayerNorm, ``pwconv1`` / ``pwconv2``
  ``nn.Linear``, ``gamma`` LayerScale), ``norm`` (``nn.LayerNorm`` after
  global average pooling) and ``head`` (``nn.Linear``). SLaK-T is
  ``kernel_size=[51, 49, 47, 13, 5]`` (the last entry is both the stripe
  width w and the small kernel k) with ``width_factor=1.3`` (channels
  ``int(1.3 * [96, 192, 384, 768])`` = ``[124, 249, 499, 998]``).
* ``'dense'`` -- SLaK's mmseg / mmdet backbone: the same backbone names
  (under ``backbone.`` in a segmentor / detector checkpoint, saved as
  ``state_dict``) plus ``norm{i}`` (channels-first LayerNorm) on the
  returned stages, no pooled ``norm`` and no ``head``. The keys of the
  segmentor's / detector's own heads are not part of any lkmm target and
  are listed as *unknown*.

Weights pruned by SLaK's dynamic sparsity are stored as zeros in dense
tensors (the released checkpoints carry no masks): nothing special is
needed, they are converted like any other value.

Targets (as :mod:`lkmm.models.backbones.replknet_checkpoint`):

* ``'classifier'`` (default): mmpretrain ``ImageClassifier`` keys with
  ``backbone=dict(type='lkmm.LargeKernelConvNeXt', arch='slak-t', ...)``
  (it pools before its final norm, ``gap_before_final_norm=True``), no
  neck and a ``LinearClsHead``: ``backbone.*`` and ``head.fc.*``.
* ``'backbone'``: bare ``lkmm.LargeKernelConvNeXt`` keys, no head (a
  dense checkpoint keeps its ``norm{i}``: ``out_indices`` are the stages
  that have one, ``gap_before_final_norm=False``).

Key mapping (names only; no tensor changes its shape or value): blocks
``stages.{i}.{b}`` -> ``stages.{i}.blocks.{b}``; ``large_kernel.LoRA1``
-> ``large_kernel.tall_conv`` (both ``(K, w)``: K rows, w columns),
``large_kernel.LoRA2`` -> ``large_kernel.wide_conv`` (``(w, K)``),
``small_conv`` -> ``small_conv``; ``pwconv1`` / ``pwconv2`` -> ``pw1`` /
``pw2``; ``norm`` and ``gamma`` keep their names; the pooled ``norm`` ->
``norm{last}``; ``head`` -> ``head.fc``. Both implementations sum the
three centred 'same' conv-BN branches, so the outputs agree.

Variants lkmm's stripe form cannot hold -- a dense ``large_kernel.
lkb_origin`` (SLaK without decomposition) or a merged ``large_kernel.
lkb_reparam`` -- are reported as *unknown* with a note, not guessed.

.. _VITA-Group/SLaK: https://github.com/VITA-Group/SLaK
"""
import re
from functools import partial
from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from lkmm.utils.checkpoint_mapping import (
    TARGETS,
    CheckpointMapping,
    ConversionReport,
    check_against_model,
    check_choice,
    detect_released_layout,
    fill_bn_counters,
    key_indices,
    map_released_keys,
    register_checkpoint_mapping,
    released_source_prefix,
    require_key,
)
from lkmm.utils.state_dict import (
    extract_state_dict,
    remove_prefix,
    strip_prefix,
)

from .large_kernel_convnext import LargeKernelConvNeXt

__all__ = [
    'SLAK_FORMATS', 'SLAK_TARGETS', 'SLAK_CHECKPOINTS', 'is_slak_state_dict',
    'detect_slak_format', 'convert_slak_state_dict', 'infer_slak_kwargs'
]

SLAK_FORMATS = ('classification', 'dense')
SLAK_TARGETS = TARGETS

# Released block sub-keys -> lkmm block sub-keys.
_BN = ('weight', 'bias', 'running_mean', 'running_var',
       'num_batches_tracked')
_BLOCK_RULES = {
    'gamma': 'gamma',
    'norm.weight': 'norm.weight',
    'norm.bias': 'norm.bias',
    'pwconv1.weight': 'pw1.weight',
    'pwconv1.bias': 'pw1.bias',
    'pwconv2.weight': 'pw2.weight',
    'pwconv2.bias': 'pw2.bias',
}
for _src, _dst in (('LoRA1', 'tall_conv'), ('LoRA2', 'wide_conv'),
                   ('small_conv', 'small_conv')):
    _BLOCK_RULES[f'large_kernel.{_src}.conv.weight'] = \
        f'large_kernel.{_dst}.conv.weight'
    for _name in _BN:
        _BLOCK_RULES[f'large_kernel.{_src}.bn.{_name}'] = \
            f'large_kernel.{_dst}.bn.{_name}'

_RELEASED_BLOCK = re.compile(
    r'stages\.(?P<i>\d+)\.(?P<b>\d+)\.(?P<rest>.+)')
_DOWNSAMPLE = re.compile(r'downsample_layers\.\d+\.[01]\.(weight|bias)')
_DENSE_NORM = re.compile(r'norm(?P<i>\d+)\.(weight|bias)')
# The stripe branches tell SLaK apart from ConvNeXt / RepLKNet layouts.
_SLAK_MARK = re.compile(
    r'(?:backbone\.)?stages\.\d+\.\d+\.large_kernel\.LoRA[12]\.conv\.weight')
_LKMM_MARK = re.compile(
    r'(?:backbone\.)?stages\.\d+\.blocks\.\d+\.large_kernel\.')
_UNSUPPORTED_BRANCH = re.compile(
    r'stages\.\d+\.\d+\.large_kernel\.(lkb_origin|lkb_reparam)\.')

_BRANCH_NOTE = (
    'the checkpoint holds SLaK large-kernel branches lkmm\'s stripe form '
    'does not have (lkb_origin: the dense KxK kernel of SLaK without '
    'decomposition; lkb_reparam: an already merged kernel): {keys}')
_HEADS_NOTE = (
    'keys outside "backbone." belong to the segmentor / detector (its '
    'heads), not to an lkmm backbone: {keys}')


def is_slak_state_dict(state_dict: Mapping) -> bool:
    """Whether a state dict (or whole checkpoint) is in SLaK's released
    layout.

    Args:
        state_dict (Mapping): A state dict, bare or with ``backbone.`` /
            ``module.`` prefixes, or a checkpoint wrapping one under
            ``state_dict``, ``model`` or ``model_ema``.

    Returns:
        bool: True when it holds a released SLaK block key
        (``[backbone.]stages.{i}.{b}.large_kernel.LoRA1|LoRA2.conv.weight``).
        Never raises.
    """
    if not isinstance(state_dict, Mapping):
        return False
    for wrapper in ('state_dict', 'model', 'model_ema'):
        if isinstance(state_dict.get(wrapper), Mapping):
            state_dict = state_dict[wrapper]
            break
    return any(isinstance(k, str) and _SLAK_MARK.fullmatch(
        remove_prefix(k, 'module.')) for k in state_dict)


def detect_slak_format(state_dict: Mapping) -> str:
    """Tell which released SLaK layout a state dict uses.

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (see
            :func:`lkmm.utils.state_dict.extract_state_dict`).

    Returns:
        str: ``'classification'`` (the ImageNet model: bare block keys,
        pooled ``norm`` / ``head``) or ``'dense'`` (the mmseg / mmdet
        backbone: block keys under ``backbone.``, or bare ones with
        ``norm{i}`` output norms and no head).

    Raises:
        ValueError: If no released block keys are found, the keys are
            already lkmm's, or bare and ``backbone.`` layouts are mixed.
    """
    return detect_released_layout(
        state_dict, _SLAK_MARK.fullmatch, _DENSE_NORM, _LKMM_MARK,
        ('SLaK', 'LargeKernelConvNeXt', 'stages.0.blocks.0.large_kernel.*',
         'stages.0.0.large_kernel.LoRA1.conv.weight'))


def _map_backbone_key(name: str) -> Optional[str]:
    """lkmm name of a released backbone key (no prefix), or None."""
    if _DOWNSAMPLE.fullmatch(name):
        return name
    match = _RELEASED_BLOCK.fullmatch(name)
    if match and match.group('rest') in _BLOCK_RULES:
        return (f'stages.{match.group("i")}.blocks.{match.group("b")}.'
                + _BLOCK_RULES[match.group('rest')])
    return None


def convert_slak_state_dict(
        state_dict: Mapping,
        src_format: Optional[str] = None,
        target: str = 'classifier',
        use_ema: bool = False,
        model: Optional[nn.Module] = None
) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """Map every key of a released SLaK checkpoint to lkmm's names.

    Tensors are only renamed (no copies). BN ``num_batches_tracked`` absent
    from the source is filled with 0 (listed as *filled*).

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint (wrapped as
            ``{'model': ...}`` or ``{'state_dict': ...}``; ``module.``
            prefixes are removed).
        src_format (str, optional): ``'classification'`` or ``'dense'``;
            detected when None or ``'auto'``.
        target (str): ``'classifier'`` (``backbone.*``, ``head.fc.*``) or
            ``'backbone'`` (bare keys). Defaults to ``'classifier'``.
        use_ema (bool): Take ``model_ema`` instead of ``model``. Defaults
            to False.

        model (nn.Module, optional): A model whose ``state_dict()`` has the
            target layout, to check against (nothing is built here): its
            missing and unexpected keys go to the report, shapes that
            differ are errors.
    Returns:
        tuple[OrderedDict, ConversionReport]: The converted state dict and
        its report.

    Raises:
        ValueError: For an unknown ``src_format`` / ``target``, a non-SLaK
            input, a dense (downstream) checkpoint with the classifier
            target, or when no key could be converted.
    """
    check_choice(target, SLAK_TARGETS, 'target')
    state_dict = extract_state_dict(
        state_dict, ('model_ema', ) if use_ema else ('state_dict', 'model'),
        required=use_ema)
    if src_format in (None, 'auto'):
        src_format = detect_slak_format(state_dict)
    check_choice(src_format, SLAK_FORMATS, 'src_format')
    if src_format == 'dense' and target == 'classifier':
        raise ValueError(
            'a SLaK mmseg / mmdet backbone checkpoint has no classifier '
            '(no pooled norm, no head); convert it with target '
            "'backbone' (--target backbone)")
    report = ConversionReport(src_format=src_format, target=target)
    names = (k[len('backbone.'):] if k.startswith('backbone.') else k
             for k in state_dict)
    stages = [int(m.group('i')) for m in map(_RELEASED_BLOCK.match, names)
              if m]
    out = map_released_keys(state_dict, report,
                            max(stages) if stages else 0, _map_released,
                            _DENSE_NORM, 'SLaK')
    _add_notes(report, released_source_prefix(state_dict, src_format))
    fill_bn_counters(out, report)
    report.num_tensors = len(out)
    if model is not None:
        check_against_model(out, report, model)
    return out, report


def _map_released(src: str, name: str, value: torch.Tensor):
    dst = _map_backbone_key(name)
    return None if dst is None else (dst, value, False)


def _add_notes(report: ConversionReport, src_prefix: str) -> None:
    """Say why keys are unknown where SLaK's layout tells."""
    branches = [k for k in report.unknown if k.startswith(src_prefix)
                and _UNSUPPORTED_BRANCH.match(k[len(src_prefix):])]
    outside = [k for k in report.unknown if not k.startswith(src_prefix)]
    if branches:
        report.notes.append(_BRANCH_NOTE.format(keys=branches[:10]))
    if outside:
        report.notes.append(_HEADS_NOTE.format(keys=outside[:10]))


_require = partial(require_key, family='SLaK')


def _one(values, what):
    values = set(values)
    if len(values) != 1:
        raise ValueError(f'cannot infer the SLaK arch: {what} differ '
                         f'between blocks ({sorted(values, key=str)}); '
                         'lkmm has one setting')
    return values.pop()


def _read_block(state_dict: Mapping, pre: str, found: Dict[str, list]
                ) -> int:
    """Record one block's settings in ``found``; returns its channels.

    Raises:
        ValueError: a key is missing or the stripes are not transposed.
    """
    c = _require(state_dict, pre + 'norm.weight').shape[0]
    tall = _require(state_dict, pre + 'large_kernel.tall_conv.conv.weight')
    wide = _require(state_dict, pre + 'large_kernel.wide_conv.conv.weight')
    if tuple(wide.shape[-2:]) != tuple(tall.shape[-2:])[::-1]:
        raise ValueError(
            f'cannot infer the SLaK arch: {pre}large_kernel: tall '
            f'kernel {tuple(tall.shape[-2:])} and wide kernel '
            f'{tuple(wide.shape[-2:])} are not transposed shapes')
    found['kernels'].append(int(tall.shape[-2]))
    found['widths'].append(int(tall.shape[-1]))
    small = state_dict.get(pre + 'large_kernel.small_conv.conv.weight')
    if small is not None:
        found['smalls'].append(int(small.shape[-1]))
    hidden = _require(state_dict, pre + 'pw1.weight').shape[0]
    found['ratios'].append(hidden / c)
    found['scaled'].append(pre + 'gamma' in state_dict)
    return int(c)


def _infer_arch(state_dict: Mapping, stages) -> Tuple[object, bool]:
    """The ``arch`` (a zoo name where every setting matches one) and
    whether the blocks have LayerScale."""
    found = {k: [] for k in ('widths', 'smalls', 'ratios', 'scaled')}
    depths, channels, kernels = [], [], []
    for i in stages:
        blocks = key_indices(state_dict,
                          re.compile(rf'stages\.{i}\.blocks\.(\d+)\.'))
        if not blocks or blocks != list(range(len(blocks))):
            raise ValueError(f'cannot infer the SLaK arch: stage {i} has '
                             f'blocks {blocks}, expected 0..N-1')
        found['kernels'] = []
        widths = [_read_block(state_dict, f'stages.{i}.blocks.{b}.', found)
                  for b in blocks]
        depths.append(len(blocks))
        channels.append(widths[0])
        kernels.append(_one(found['kernels'], f'stage {i} kernel sizes'))
    settings = dict(
        depths=depths, channels=channels, kernel_sizes=kernels,
        form='stripe',
        stripe_width=_one(found['widths'], 'stripe widths'),
        small_kernel=_one(found['smalls'], 'small kernels')
        if found['smalls'] else None,
        mlp_ratio=float(_one(found['ratios'], 'MLP ratios')))
    layer_scale = _one(found['scaled'], 'LayerScale presences')
    for name in ('slak-t', 'slak-s', 'slak-b'):
        zoo = LargeKernelConvNeXt.parse_arch(name)
        if all(zoo[k] == v for k, v in settings.items()):
            return name, layer_scale
    return settings, layer_scale


def infer_slak_kwargs(state_dict: Mapping,
                      dense: Optional[bool] = None) -> dict:
    """Infer the ``lkmm.LargeKernelConvNeXt`` arguments (stripe form) that
    fit an lkmm state dict converted from SLaK.

    Args:
        state_dict (Mapping): lkmm keys, bare or under ``backbone.`` (e.g.
            the output of :func:`convert_slak_state_dict`).
        dense (bool, optional): Dense-prediction form (output norms on
            the unpooled maps, ``gap_before_final_norm=False``) or the
            classification form (pooled norm); None: dense unless the
            only output norm is the last stage's. Defaults to None.

    Returns:
        dict: ``arch`` (``'slak-t'`` / ``'slak-s'`` / ``'slak-b'`` when
        every setting matches one, else a dict: depths, channels,
        kernel_sizes, form ``'stripe'``, stripe_width, small_kernel,
        mlp_ratio), ``in_channels``, ``out_indices`` (the stages with an
        output norm), ``gap_before_final_norm`` (``not dense``) and
        ``layer_scale_init_value`` (0 without ``gamma``).

    Raises:
        ValueError: Naming the missing key or the inconsistency.
    """
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = strip_prefix(state_dict, 'backbone.', drop_others=True)
    stages = key_indices(state_dict, re.compile(r'stages\.(\d+)\.'))
    if not stages or stages != list(range(len(stages))):
        raise ValueError('cannot infer the SLaK arch: stage indices '
                         f'{stages} are not 0..N-1')
    arch, layer_scale = _infer_arch(state_dict, stages)
    norms = key_indices(state_dict, re.compile(r'norm(\d+)\.weight'))
    last = len(stages) - 1
    if dense is None:
        # A pooled classification norm is the last stage's only norm.
        dense = norms != [last]
    stem = _require(state_dict, 'downsample_layers.0.0.weight')
    return dict(
        arch=arch,
        in_channels=int(stem.shape[1]),
        out_indices=tuple(norms) if norms else (last, ),
        gap_before_final_norm=not dense,
        layer_scale_init_value=1e-6 if layer_scale else 0.)


#: SLaK's registered checkpoint mapping (into LargeKernelConvNeXt).
SLAK_CHECKPOINTS = register_checkpoint_mapping(CheckpointMapping(
    name='slak',
    model='LargeKernelConvNeXt',
    source='a released SLaK checkpoint (VITA-Group/SLaK)',
    formats=SLAK_FORMATS,
    foreign_formats=SLAK_FORMATS,
    detect=detect_slak_format,
    convert=convert_slak_state_dict,
    infer_kwargs=lambda state_dict, report: infer_slak_kwargs(
        state_dict, dense=report.src_format == 'dense'),
    ema_key='model_ema'))
