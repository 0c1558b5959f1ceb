"""Layer-wise / stage-wise learning-rate decay for lkmm backbones.

Fine-tuning recipe of RepLKNet (after ConvNeXt and BEiT): parameters close to
the input get smaller learning rates than those close to the output. The
backbone is cut into *layers* with ids ``0 .. num_layers``; everything outside
the backbone (neck, heads) is the *head* with id ``num_layers + 1``. A
parameter of layer ``i`` trains with::

    lr = base_lr * decay_rate ** (num_layers + 1 - i)

so the head keeps ``base_lr`` (``decay_rate ** 0``) and the stem gets
``base_lr * decay_rate ** (num_layers + 1)``. This is the convention of the
official RepLKNet code (``num_layers = 12`` for RepLKNet-31B/L/XL: 14 ids, the
head on id 13 with scale 1) and of mmseg's ConvNeXt constructor, whose
``paramwise_cfg.num_layers`` means the same.

Which layer a parameter belongs to depends on the backbone; a *layer id
function* per backbone class supplies it (see
:func:`register_layer_id_function`), so new lkmm backbones plug in without
touching the constructor. Registered: :class:`RepLKNet` (the official
RepLKNet grouping, :func:`replknet_layer_id`) and
:class:`LargeKernelConvNeXt` (PeLK / SLaK / ConvNeXt-31: mmseg's / mmdet's
ConvNeXt rules, :func:`large_kernel_convnext_layer_id`).
"""
import logging
import math
import numbers
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

from lkmm.models.backbones.large_kernel_convnext import LargeKernelConvNeXt
from lkmm.models.backbones.parcnetv2 import ParCNetV2
from lkmm.models.backbones.replknet import RepLKNet
from lkmm.registry import OPTIM_WRAPPER_CONSTRUCTORS

#: ``decay_type`` values accepted in ``paramwise_cfg``.
DECAY_TYPES = ('layer_wise', 'stage_wise')

#: A layer id function: ``fn(name, backbone, decay_type) -> Optional[int]``.
#: ``name`` is a parameter name relative to the backbone (no ``backbone.``
#: prefix). It returns the layer id (``0`` = closest to the input) or None
#: when the parameter belongs with the head (e.g. output norms).
LayerIdFunction = Callable[[str, nn.Module, str], Optional[int]]

#: Backbone class -> layer id function; see :func:`register_layer_id_function`.
LAYER_ID_FUNCTIONS: Dict[type, LayerIdFunction] = {}

#: Backbone class -> decay types in which ``paramwise_cfg.num_layers`` may
#: exceed the backbone's largest layer id (see
#: :func:`register_layer_id_function`).
HEAD_GAP_DECAY_TYPES: Dict[type, Tuple[str, ...]] = {}


def register_layer_id_function(backbone_cls: type,
                               head_gap_decay_types: Sequence[str] = ()):
    """Decorator registering the layer id function of a backbone class.

    Subclasses of ``backbone_cls`` use it too unless they register their own.

    Args:
        backbone_cls (type): The backbone class (an ``nn.Module`` subclass).
        head_gap_decay_types (Sequence[str]): Decay types in which a config's
            ``paramwise_cfg.num_layers`` may be *larger* than the backbone's
            largest layer id: the head then gets id ``num_layers + 1`` and the
            ids in between stay empty, which lowers every backbone lr by the
            same factor. mmseg / mmdet ConvNeXt configs rely on it for
            ``stage_wise`` (``num_layers=6`` or ``12`` with stage ids 0-4).
            Elsewhere ``num_layers`` must equal the derived value. Defaults
            to ``()``.

    Returns:
        Callable: A decorator that registers and returns the function.

    Example:
        >>> @register_layer_id_function(MyBackbone)
        >>> def my_layer_id(name, backbone, decay_type):
        ...     return 0 if name.startswith('stem') else None
    """
    if not (isinstance(backbone_cls, type)
            and issubclass(backbone_cls, nn.Module)):
        raise TypeError('register_layer_id_function expects an nn.Module '
                        f'subclass, got {backbone_cls!r}')

    unknown = sorted(set(head_gap_decay_types) - set(DECAY_TYPES))
    if unknown:
        raise ValueError(f'head_gap_decay_types must be among {DECAY_TYPES}, '
                         f'got {unknown}')

    def _register(fn: LayerIdFunction) -> LayerIdFunction:
        LAYER_ID_FUNCTIONS[backbone_cls] = fn
        HEAD_GAP_DECAY_TYPES[backbone_cls] = tuple(head_gap_decay_types)
        return fn

    return _register


def _replknet_stage_layer_ids(backbone: RepLKNet,
                              decay_type: str) -> List[Tuple[int, int]]:
    """``(first id, number of ids)`` of every RepLKNet stage."""
    if decay_type == 'stage_wise':
        # stem + stage 0 share id 0, stage i has id i.
        return [(i, 1) for i in range(backbone.num_stages)]
    # layer_wise: stem 0, one id per stage, except the deep stage (the
    # penultimate, stage 2 of four) whose blocks go in groups of 4 modules
    # (2 RepLK blocks + 2 ConvFFNs).
    deep = backbone.num_stages - 2
    ids, first = [], 1
    for i, stage in enumerate(backbone.stages):
        count = math.ceil(len(stage) / 4) if i == deep else 1
        ids.append((first, count))
        first += count
    return ids


@register_layer_id_function(RepLKNet)
def replknet_layer_id(name: str, backbone: RepLKNet,
                      decay_type: str) -> Optional[int]:
    """Layer id of a RepLKNet parameter, after the official RepLKNet code.

    ``layer_wise`` (``get_num_layer_for_replknet`` in the official
    ``optim_factory.py``; 12 + 2 ids for ``layers=[2, 2, 18, 2]``):

    - ``stem`` -> 0
    - ``stages.0`` -> 1, ``stages.1`` -> 2
    - ``stages.2.k`` -> ``3 + k // 4``: ``stages.2`` alternates RepLK block
      and ConvFFN, so a group is 2 block pairs (9 groups, ids 3-11, for 18
      pairs)
    - ``stages.3`` -> the last backbone id (12)
    - ``transitions.i`` (between stage i and i + 1) goes with the last id of
      stage i, the stage it *follows*: 1, 2 and 11
    - ``out_norm{i}`` -> None (the head), like the official classifier's
      final norm and mmseg's ConvNeXt ``norm{i}``

    ``stage_wise``: stem, ``stages.0`` and ``transitions.0`` -> 0;
    ``stages.i`` and ``transitions.i`` -> i; ``out_norm{i}`` -> head.

    Args:
        name (str): Parameter name relative to the backbone.
        backbone (RepLKNet): The backbone.
        decay_type (str): ``'layer_wise'`` or ``'stage_wise'``.

    Returns:
        int | None: The layer id, or None for the head.
    """
    parts = name.split('.')
    if parts[0] == 'stem':
        return 0
    stage_ids = _replknet_stage_layer_ids(backbone, decay_type)
    if parts[0] == 'stages':
        first, count = stage_ids[int(parts[1])]
        return first + min(int(parts[2]) // 4, count - 1)
    if parts[0] == 'transitions':
        first, count = stage_ids[int(parts[1])]
        return first + count - 1
    return None


def _convnext_stage_layer_ids(backbone: nn.Module,
                              decay_type: str) -> List[Tuple[int, int]]:
    """``(first id, number of ids)`` of every stage of a ConvNeXt-layout
    backbone (``arch_settings['depths']``)."""
    depths = backbone.arch_settings['depths']
    if decay_type == 'stage_wise':
        # Stem (and, as in mmseg, every downsampling layer) 0; stage i: i+1.
        return [(i + 1, 1) for i in range(len(depths))]
    # layer_wise: stem 0, one id per stage except the penultimate (deep)
    # one, whose blocks go in groups of 3 (mmseg's ConvNeXt grouping).
    deep = len(depths) - 2
    ids, first = [], 1
    for i, depth in enumerate(depths):
        count = math.ceil(depth / 3) if i == deep else 1
        ids.append((first, count))
        first += count
    return ids


@register_layer_id_function(LargeKernelConvNeXt,
                            head_gap_decay_types=('stage_wise', ))
@register_layer_id_function(ParCNetV2, head_gap_decay_types=('stage_wise', ))
def convnext_layout_layer_id(name: str, backbone: nn.Module,
                             decay_type: str) -> Optional[int]:
    """Layer id of a parameter of a ConvNeXt-layout backbone
    (LargeKernelConvNeXt: PeLK / SLaK / ConvNeXt-31; ParCNetV2, which its
    release fine-tunes with ConvNeXt's mmseg recipe), after mmseg's /
    mmdet's ConvNeXt rules (``get_layer_id_for_convnext`` /
    ``get_stage_id_for_convnext`` of their
    ``LearningRateDecayOptimizerConstructor``, the ConvNeXt release's code,
    which SLaK's downstream code copies). Block k of stage i is
    ``stages.i.blocks.k`` (LargeKernelConvNeXt) or ``stages.i.k``
    (ParCNetV2).

    ``layer_wise`` (ids 0-6 for depths ``[3, 3, 9, 3]``, 0-12 for
    ``[3, 3, 27, 3]``, mmseg's ``num_layers`` 6 / 12):

    - ``downsample_layers.0`` (stem) -> 0
    - ``stages.0`` -> 1, ``stages.1`` -> 2
    - block k of stage 2 -> ``3 + k // 3`` (groups of three blocks)
    - ``stages.3`` -> the last backbone id
    - ``downsample_layers.i`` (i >= 1) -> the first id of stage i, the stage
      it *precedes* (mmseg: 2, 3 and the last id)
    - ``stages.i.pos_embed`` (PeLK's kernel-wise positional embedding,
      shared by all blocks of the stage) -> the first id of stage i, with
      the downsampling layer in front of the stage (ConvNeXt has no such
      parameter; mmseg puts a ViT's ``pos_embed`` with the stem)
    - ``norm{i}`` (the dense-prediction output norms) -> None (the head):
      mmseg's rules send every name they do not know to the head

    ``stage_wise`` (exactly mmseg's ``get_stage_id_for_convnext``): every
    ``downsample_layers.i`` -> 0 (the stem's id, not the following stage's:
    mmseg and the ConvNeXt release do so), ``stages.i`` (pos_embed
    included) -> ``i + 1``, ``norm{i}`` -> the head. mmseg's configs set
    ``num_layers=6`` (ConvNeXt-T) or ``12`` (S/B) for stage-wise decay
    although the stage ids end at 4; the head id is ``num_layers + 1``
    there, so the backbone's lrs are ``decay_rate ** (num_layers + 1 - id)``
    with a gap before the head. This constructor accepts such a
    ``num_layers`` for these backbones in ``stage_wise`` and reproduces
    those lrs; without ``num_layers`` the head follows stage 3 directly
    (id 5).

    Args:
        name (str): Parameter name relative to the backbone.
        backbone (nn.Module): The backbone (``arch_settings['depths']``).
        decay_type (str): ``'layer_wise'`` or ``'stage_wise'``.

    Returns:
        int | None: The layer id, or None for the head.
    """
    parts = name.split('.')
    stage_ids = _convnext_stage_layer_ids(backbone, decay_type)
    if parts[0] == 'downsample_layers':
        stage = int(parts[1])
        if stage == 0 or decay_type == 'stage_wise':
            return 0
        return stage_ids[stage][0]
    if parts[0] == 'stages':
        first, count = stage_ids[int(parts[1])]
        rest = parts[2:]
        if rest[:1] == ['blocks']:
            rest = rest[1:]
        if rest and rest[0].isdigit():
            return first + min(int(rest[0]) // 3, count - 1)
        return first  # pos_embed: with the stage's first blocks
    return None


def _find_registered_class(backbone: nn.Module) -> type:
    for cls in type(backbone).__mro__:
        if cls in LAYER_ID_FUNCTIONS:
            return cls
    supported = sorted(cls.__name__ for cls in LAYER_ID_FUNCTIONS)
    raise NotImplementedError(
        'LayerDecayOptimWrapperConstructor has no layer id function for '
        f'backbone {type(backbone).__name__}; supported backbones: '
        f'{supported} (register one with '
        'lkmm.engine.optimizers.register_layer_id_function)')


def _find_layer_id_function(backbone: nn.Module) -> LayerIdFunction:
    return LAYER_ID_FUNCTIONS[_find_registered_class(backbone)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optimizer wrapper constructor with layer-wise learning-rate decay.

    Registered as ``lkmm.LayerDecayOptimWrapperConstructor``, usable from
    configs of any default scope (mmpretrain, mmseg, mmdet):

    .. code:: python

        optim_wrapper = dict(
            constructor='lkmm.LayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=4e-4, weight_decay=0.05),
            paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise'))

    The runner model's ``backbone`` attribute is the backbone (classifiers,
    segmentors and detectors all have one); all other parameters form the
    head with learning-rate scale 1. A model that is itself a supported
    backbone is accepted too (no head). Each backbone parameter gets a layer
    id from the layer id function registered for the backbone class (see
    :func:`replknet_layer_id`), and trains with
    ``base_lr * decay_rate ** (num_layers + 1 - layer_id)``.

    Param groups are one per (layer id, decay / no decay), head first (so
    the lr mmengine logs, the first group's, is the base lr), with extra keys
    ``lr_scale``, ``layer_id`` and ``group_name``; a table of them is logged
    at INFO.

    Weight decay: parameters with one dimension (norm weights, biases) and
    those matched by ``no_decay_names`` get 0, the others the optimizer's
    ``weight_decay``. Parameters that do not require grad (frozen stages) are
    left out of the optimizer.

    Args:
        optim_wrapper_cfg (dict): The optimizer wrapper config; its
            ``optimizer`` must set ``lr``.
        paramwise_cfg (dict): With keys:

            - decay_rate (float): Required; in (0, 1].
            - decay_type (str): ``'layer_wise'`` (default) or
              ``'stage_wise'`` (stem+stage 0 / stage 1 / stage 2 / stage 3
              / head).
            - num_layers (int, optional): The largest backbone layer id (the
              head's id is ``num_layers + 1``), as in mmseg. Derived from the
              backbone by default; when given it must match, so that a
              config written for another arch fails loudly -- except where
              the backbone's layer id function was registered with
              ``head_gap_decay_types`` (LargeKernelConvNeXt, ``stage_wise``):
              there it may be larger, as mmseg's ConvNeXt stage-wise configs
              (``num_layers=6`` / ``12`` for stage ids 0-4), and the head
              takes id ``num_layers + 1``.
            - no_decay_names (Sequence[str], optional): Parameters without
              weight decay besides the 1-D ones. An entry matches a full
              parameter name, a dotted suffix of one (``'pos_embed'``) or a
              module prefix (``'backbone.stem'``).
    """
    allowed_keys = ('decay_rate', 'decay_type', 'num_layers', 'no_decay_names')

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None):
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        cfg = self.paramwise_cfg
        self.decay_rate = cfg['decay_rate']
        self.decay_type = cfg.get('decay_type', 'layer_wise')
        self.num_layers = cfg.get('num_layers', None)
        self.no_decay_names = tuple(cfg.get('no_decay_names', None) or ())

    def _validate_cfg(self) -> None:
        """Check ``paramwise_cfg`` and the optimizer's ``lr``."""
        name = type(self).__name__
        cfg = self.paramwise_cfg
        if not isinstance(cfg, dict):
            raise TypeError(f'{name} paramwise_cfg must be a dict, got '
                            f'{type(cfg).__name__}')
        unknown = sorted(set(cfg) - set(self.allowed_keys))
        if unknown:
            raise ValueError(
                f'{name} paramwise_cfg has unsupported keys {unknown}; '
                f'allowed keys are {list(self.allowed_keys)}')
        rate = cfg.get('decay_rate', None)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or \
                not 0 < rate <= 1:
            raise ValueError(
                f'{name} paramwise_cfg "decay_rate" (required) must be a '
                f'number in (0, 1], got {rate!r}')
        decay_type = cfg.get('decay_type', 'layer_wise')
        if decay_type not in DECAY_TYPES:
            raise ValueError(
                f'{name} paramwise_cfg "decay_type" must be one of '
                f'{list(DECAY_TYPES)}, got {decay_type!r}')
        num_layers = cfg.get('num_layers', None)
        if num_layers is not None and (isinstance(num_layers, bool)
                                       or not isinstance(num_layers, int)
                                       or num_layers < 0):
            raise ValueError(
                f'{name} paramwise_cfg "num_layers" must be None or a '
                f'non-negative int, got {num_layers!r}')
        names = cfg.get('no_decay_names', None)
        if names is not None and (
                isinstance(names, str) or not isinstance(names, Sequence)
                or not all(isinstance(n, str) for n in names)):
            raise ValueError(
                f'{name} paramwise_cfg "no_decay_names" must be a list of '
                f'str, got {names!r}')
        if not isinstance(self.base_lr, numbers.Real):
            raise ValueError(
                f'{name} needs the optimizer "lr" to be a number, got '
                f'{self.base_lr!r}')

    @staticmethod
    def find_backbone(model: nn.Module) -> Tuple[nn.Module, str]:
        """Return the backbone of ``model`` and its parameter-name prefix.

        Args:
            model (nn.Module): A classifier / segmentor / detector with a
                ``backbone`` attribute, or a supported backbone itself.

        Returns:
            tuple[nn.Module, str]: The backbone and the prefix (with
            trailing dot, ``''`` when ``model`` is the backbone) its
            parameters have in ``model.named_parameters()``.
        """
        backbone = getattr(model, 'backbone', None)
        if isinstance(backbone, nn.Module):
            return backbone, 'backbone.'
        if any(isinstance(model, cls) for cls in LAYER_ID_FUNCTIONS):
            return model, ''
        raise NotImplementedError(
            'LayerDecayOptimWrapperConstructor needs a model with a '
            f'"backbone" attribute; {type(model).__name__} has none')

    def get_num_layers(self, backbone: nn.Module) -> int:
        """The largest layer id of ``backbone`` for this ``decay_type``.

        Args:
            backbone (nn.Module): A backbone with a registered layer id
                function.

        Returns:
            int: ``num_layers``; the head has id ``num_layers + 1``.
        """
        cls = _find_registered_class(backbone)
        fn = LAYER_ID_FUNCTIONS[cls]
        ids = [fn(name, backbone, self.decay_type)
               for name, _ in backbone.named_parameters()]
        derived = max((i for i in ids if i is not None), default=0)
        if self.num_layers is not None and self.num_layers > derived and \
                self.decay_type in HEAD_GAP_DECAY_TYPES.get(cls, ()):
            # mmseg/mmdet ConvNeXt stage-wise: the head at num_layers + 1.
            return self.num_layers
        if self.num_layers is not None and self.num_layers != derived:
            raise ValueError(
                f'paramwise_cfg "num_layers" is {self.num_layers} but '
                f'{type(backbone).__name__} has layer ids 0..{derived} for '
                f'decay_type "{self.decay_type}"; set num_layers={derived} '
                'or leave it out')
        return derived

    def get_layer_id(self, name: str, model: nn.Module,
                     num_layers: Optional[int] = None) -> int:
        """Layer id of a parameter of ``model``.

        Args:
            name (str): Parameter name as in ``model.named_parameters()``.
            model (nn.Module): The model (see :meth:`find_backbone`).
            num_layers (int, optional): Precomputed
                :meth:`get_num_layers` of the backbone.

        Returns:
            int: In ``[0, num_layers + 1]``; ``num_layers + 1`` is the head.
        """
        backbone, prefix = self.find_backbone(model)
        if num_layers is None:
            num_layers = self.get_num_layers(backbone)
        if not name.startswith(prefix):
            return num_layers + 1
        fn = _find_layer_id_function(backbone)
        layer_id = fn(name[len(prefix):], backbone, self.decay_type)
        return num_layers + 1 if layer_id is None else layer_id

    def get_lr_scale(self, layer_id: int, num_layers: int) -> float:
        """``decay_rate ** (num_layers + 1 - layer_id)``.

        Args:
            layer_id (int): The layer id.
            num_layers (int): The largest backbone layer id.

        Returns:
            float: The learning-rate multiplier.
        """
        return float(self.decay_rate)**(num_layers + 1 - layer_id)

    def _no_decay(self, name: str, param) -> bool:
        if param.ndim <= 1 or name.endswith('.bias'):
            return True
        return any(
            name == key or name.endswith('.' + key)
            or name.startswith(key + '.') for key in self.no_decay_names)

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   **kwargs) -> None:
        """Add the parameters of ``module`` to ``params``, one group per
        (layer id, weight decay) pair.

        Args:
            params (list[dict]): Param groups, extended in place.
            module (nn.Module): The runner model.
            prefix (str): Unused; the model is handled as a whole.
        """
        backbone, _ = self.find_backbone(module)
        num_layers = self.get_num_layers(backbone)
        groups: Dict[str, dict] = {}
        num_frozen = 0
        for name, param in module.named_parameters():
            if not param.requires_grad:
                num_frozen += 1
                continue
            layer_id = self.get_layer_id(name, module, num_layers)
            no_decay = self._no_decay(name, param)
            group_name = f'layer_{layer_id}_' + ('no_decay'
                                                 if no_decay else 'decay')
            if group_name not in groups:
                scale = self.get_lr_scale(layer_id, num_layers)
                group = dict(
                    params=[],
                    lr=self.base_lr * scale,
                    lr_scale=scale,
                    layer_id=layer_id,
                    group_name=group_name)
                if no_decay:
                    group['weight_decay'] = 0.
                elif self.base_wd is not None:
                    group['weight_decay'] = self.base_wd
                groups[group_name] = group
            groups[group_name]['params'].append(param)
        # Head first: mmengine logs the lr of the first param group, which
        # then reads as the (scheduled) base lr rather than the stem's.
        ordered = sorted(groups.values(),
                         key=lambda g: (-g['layer_id'], g['group_name']))
        params.extend(ordered)
        self._log_groups(ordered, backbone, num_layers, num_frozen)

    def _log_groups(self, groups: List[dict], backbone: nn.Module,
                    num_layers: int, num_frozen: int) -> None:
        head = num_layers + 1
        lines = [
            f'{type(self).__name__}: {type(backbone).__name__}, '
            f'{self.decay_type} decay_rate={self.decay_rate}, layer ids '
            f'0..{num_layers}, head {head}, base lr {self.base_lr:.3g}',
            f'{"layer":>6} {"lr_scale":>9} {"lr":>10} {"wd":>8} '
            f'{"tensors":>8} {"params":>10}'
        ]
        for g in groups:
            wd = g.get('weight_decay', None)
            wd = 'default' if wd is None else f'{wd:.3g}'
            layer = 'head' if g['layer_id'] == head else str(g['layer_id'])
            numel = sum(p.numel() for p in g['params'])
            lines.append(f'{layer:>6} {g["lr_scale"]:>9.4g} {g["lr"]:>10.3e} '
                         f'{wd:>8} {len(g["params"]):>8} {numel:>10}')
        if num_frozen:
            lines.append(f'{num_frozen} frozen parameter tensors '
                         '(requires_grad=False) left out')
        print_log('\n'.join(lines), logger='current', level=logging.INFO)
