"""The contract every lkmm backbone keeps, and the ConvNeXt layout's
forward.

Every lkmm backbone (``RepLKNet``, ``LargeKernelConvNeXt``, ``ParCNetV2``,
``LargeKernelMobileNetV2``):

* ``out_indices``: stage indices in ``[-num_stages, num_stages)``, checked
  by :func:`~.arch_utils.parse_out_indices`; stage ``i``'s output goes
  through the module ``norm{i}`` where the backbone has one;
* ``frozen_stages``: ``k`` freezes (eval mode, no gradients) the stem and
  stages ``0 .. k-1`` with the downsampling layers that feed them; ``0``
  freezes nothing, and ``-1`` (mmpretrain's ResNet-style "none") means the
  same;
* ``norm_eval``: BN layers stay in eval mode while training;
* ``with_cp``: activation checkpointing per block (:func:`checkpointed`);
* ``init_cfg``: a ``Pretrained`` entry must name its checkpoint
  (:func:`lkmm.utils.check_pretrained_set`);
* deploy form: :attr:`LargeKernelBackbone.deploy_arg` names the
  constructor argument that builds the re-parameterized structure, and
  ``switch_to_deploy()`` deploys a built model in place
  (:mod:`lkmm.models.deploy`);
* layer-wise lr decay: ``get_layer_depth(param_name, prefix)`` as
  mmpretrain's ConvNeXt answers it (:meth:`LargeKernelBackbone.
  get_layer_depth`);
* ``arch``: a zoo name or a dict checked against the family's one
  :class:`~.arch_utils.ArchSpec` (``arch_spec``);
* older checkpoints: keys a module moved from (``legacy_keys``) are renamed
  as a state dict loads (:meth:`LargeKernelBackbone.upgrade_legacy_keys`).
"""
import re
from collections import OrderedDict
from typing import (
    Dict,
    List,
    Mapping,
    MutableMapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from lkmm.utils.layer_depth import DECAY_TYPES
from lkmm.utils.pretrained import check_pretrained_set
from lkmm.utils.pretrained_match import CheckedPretrainedInit

from ..deploy import switch_model_to_deploy
from .arch_utils import ArchSpec, parse_out_indices


def checkpointed(enabled: bool, module: nn.Module, x: torch.Tensor, *args):
    """``module(x, *args)``, with activation checkpointing when ``enabled``
    and gradients flow (saves memory, costs one more forward)."""
    if enabled and x.requires_grad:
        return cp.checkpoint(module, x, *args, use_reentrant=False)
    return module(x, *args)


class LargeKernelBackbone(BaseModule):
    """Base of lkmm's backbones (see the module docstring for the contract).

    Subclasses describe their ``arch`` (``arch_zoo`` and ``arch_spec``,
    checked by :meth:`parse_arch` and their own :meth:`check_arch`), call
    :meth:`init_contract` first in ``__init__``, and say which modules a
    frozen stage holds (:meth:`frozen_modules`) and which learning-rate
    decay layer a parameter belongs to (:meth:`stage_layer_ids`,
    :meth:`layer_id`).
    """
    #: Named archs.
    arch_zoo: Dict[str, dict] = {}
    #: The keys of an arch dict: which are required, their defaults, which
    #: hold one entry per stage (:class:`~.arch_utils.ArchSpec`).
    arch_spec: Optional[ArchSpec] = None
    #: Key paths of older lkmm checkpoints that still load: ``(regex,
    #: replacement)`` on the key below the backbone's prefix (see
    #: :meth:`current_key`).
    legacy_keys: Tuple[Tuple[str, str], ...] = ()
    #: Constructor argument that builds the deployed structure;
    #: None for a backbone with nothing to deploy.
    deploy_arg: Optional[str] = 'deploy'
    #: Decay types in which a config's ``num_layers`` may exceed the
    #: backbone's largest layer id (mmseg's ConvNeXt stage-wise configs):
    #: the head then takes id ``num_layers + 1``.
    layer_decay_head_gap: Tuple[str, ...] = ()

    @classmethod
    def parse_arch(cls, arch: Union[str, dict]) -> dict:
        """Validate ``arch`` and return the full settings dict.

        Raises:
            ValueError: naming the field and the allowed values.
        """
        settings = cls.arch_spec.parse(cls.__name__, arch, cls.arch_zoo)
        cls.check_arch(settings)
        return settings

    @classmethod
    def check_arch(cls, settings: dict) -> None:
        """The family's own checks of a full arch dict (may normalize it
        in place)."""

    def init_contract(self, arch: Union[str, dict],
                      out_indices: Union[int, Sequence[int]],
                      frozen_stages: int, norm_eval: bool,
                      with_cp: bool) -> dict:
        """Parse ``arch`` and the contract's arguments into
        ``arch_settings``, ``num_stages``, ``out_indices``,
        ``frozen_stages``, ``norm_eval`` and ``with_cp``.

        Returns:
            dict: The arch settings.
        """
        self.arch_settings = self.parse_arch(arch)
        self.num_stages = self.arch_spec.num_stages(self.arch_settings)
        self.out_indices = parse_out_indices(out_indices, self.num_stages)
        self.set_training_options(frozen_stages, norm_eval, with_cp)
        return self.arch_settings

    def set_training_options(self, frozen_stages: int, norm_eval: bool,
                             with_cp: bool) -> None:
        """Check and store the backbone contract's options (call after
        ``self.num_stages`` is set).

        Raises:
            ValueError: ``frozen_stages`` outside ``[-1, num_stages]``.
        """
        if isinstance(frozen_stages, bool) or not isinstance(
                frozen_stages, int) or not (
                    -1 <= frozen_stages <= self.num_stages):
            raise ValueError(
                f'frozen_stages must be an int in [-1, {self.num_stages}] '
                f'(0 and -1 freeze nothing), got {frozen_stages!r}')
        self.frozen_stages = max(frozen_stages, 0)
        self.norm_eval = norm_eval
        self.with_cp = with_cp

    def frozen_modules(self) -> List[nn.Module]:
        """The modules that ``frozen_stages`` freezes."""
        raise NotImplementedError

    def run_checkpointed(self, module: nn.Module, x: torch.Tensor, *args):
        """:func:`checkpointed` with this backbone's ``with_cp``."""
        return checkpointed(self.with_cp, module, x, *args)

    def init_weights(self):
        """mmengine's initialization, with the ``Pretrained`` entry loaded
        last by :class:`~lkmm.utils.pretrained_match.CheckedPretrainedInit`:
        a file that fills too few tensors, or is empty, truncated or not a
        checkpoint, stops with a message instead of training from random
        weights."""
        try:
            # Where a config normally puts a backbone's init_cfg.
            check_pretrained_set(self.init_cfg, 'model.backbone.init_cfg')
        except ValueError as err:
            raise ValueError(f'{type(self).__name__}: {err}') from None
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else \
            [self.init_cfg] if self.init_cfg else []
        pretrained = [c for c in cfgs if isinstance(c, dict) and c.get(
            'type') in ('Pretrained', 'PretrainedInit')]
        if not pretrained or self._is_init:
            super().init_weights()
            return
        # The other entries first, then the checkpoint over them (as
        # mmengine orders them).
        original = self.init_cfg
        self.init_cfg = [c for c in cfgs if c not in pretrained] or None
        try:
            super().init_weights()
        finally:
            self.init_cfg = original
        cfg = pretrained[-1]
        CheckedPretrainedInit(cfg['checkpoint'], prefix=cfg.get('prefix'),
                              map_location=cfg.get('map_location', 'cpu')
                              )(self)

    @classmethod
    def current_key(cls, key: str, prefix: str = '') -> str:
        """``key`` with an older lkmm path below ``prefix`` renamed to
        today's (:attr:`legacy_keys`), or unchanged; so checkpoints saved
        before a module moved still load."""
        if not key.startswith(prefix):
            return key
        rest = key[len(prefix):]
        for pattern, replacement in cls.legacy_keys:
            rest, count = re.subn('^' + pattern, replacement, rest, count=1)
            if count:
                return prefix + rest
        return key

    @classmethod
    def upgrade_legacy_keys(cls, state_dict: Mapping, prefix: str = ''
                            ) -> 'OrderedDict[str, torch.Tensor]':
        """A copy of ``state_dict`` (same order) with older lkmm key paths
        below ``prefix`` renamed (:meth:`current_key`); a key whose new name
        is taken stays as it is.

        Returns:
            OrderedDict: The renamed state dict.
        """
        out = OrderedDict()
        for key, value in state_dict.items():
            new = cls.current_key(key, prefix)
            out[new if new == key or new not in state_dict else key] = value
        return out

    def _load_from_state_dict(self, state_dict: MutableMapping, prefix: str,
                              *args, **kwargs):
        # Rename in place: torch and mmengine hand the children the keys of
        # this dict after this call.
        for key in list(state_dict):
            new = self.current_key(key, prefix)
            if new != key and new not in state_dict:
                state_dict[new] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _freeze_stages(self):
        for module in self.frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def switch_to_deploy(self):
        """Deploy every re-parameterizable module, in place; eval outputs are
        unchanged (up to float rounding). Returns the backbone."""
        switch_model_to_deploy(self, include_self=False)
        return self

    # Layer-wise learning-rate decay -------------------------------------

    def stage_layer_ids(self, decay_type: str) -> List[Tuple[int, int]]:
        """``(first layer id, number of ids)`` of every stage."""
        raise NotImplementedError

    def layer_id(self, name: str, decay_type: str) -> Optional[int]:
        """Layer id of parameter ``name`` (relative to the backbone), or
        None where it belongs with the head (the output norms)."""
        raise NotImplementedError

    def num_layer_ids(self, decay_type: str = 'layer_wise') -> int:
        """The largest layer id (of the last stage)."""
        first, count = self.stage_layer_ids(decay_type)[-1]
        return first + count - 1

    def get_layer_depth(self, param_name: str, prefix: str = '',
                        decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """Layer-wise depth of a parameter, as mmpretrain's ConvNeXt
        answers it (so mmpretrain's
        ``LearningRateDecayOptimWrapperConstructor`` works too).

        Args:
            param_name (str): Parameter name in the whole model.
            prefix (str): The backbone's prefix in the model (e.g.
                ``'backbone.'``); names without it belong to the head.
            decay_type (str): ``'layer_wise'`` or ``'stage_wise'``.
                Defaults to ``'layer_wise'``.

        Returns:
            tuple[int, int]: The layer id and the number of ids: the stem
            is 0, the head ``num_layer_ids() + 1``, and the count
            ``num_layer_ids() + 2``.
        """
        if decay_type not in DECAY_TYPES:
            raise ValueError(f'decay_type must be one of {list(DECAY_TYPES)}'
                             f', got {decay_type!r}')
        head = self.num_layer_ids(decay_type) + 1
        if not param_name.startswith(prefix):
            return head, head + 1
        layer_id = self.layer_id(param_name[len(prefix):], decay_type)
        return (head if layer_id is None else layer_id), head + 1


def grouped_stage_layer_ids(sizes: Sequence[int],
                       group: int) -> List[Tuple[int, int]]:
    """Layer-wise ids: stem 0, one id per stage, except the penultimate
    (deep) stage whose ``sizes`` units go in groups of ``group``."""
    deep = len(sizes) - 2
    ids, first = [], 1
    for i, size in enumerate(sizes):
        count = -(-size // group) if i == deep else 1
        ids.append((first, count))
        first += count
    return ids


#: Initialization of the ConvNeXt-layout backbones (ConvNeXt's).
CONVNEXT_INIT_CFG = [
    dict(type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
    dict(type='Constant', layer=['LayerNorm'], val=1., bias=0.),
]


class ConvNeXtLayoutBackbone(LargeKernelBackbone):
    """ConvNeXt's layout: ``downsample_layers[i]`` (the stem for i = 0)
    then ``stages[i]``; stage i's output goes through ``norm{i}`` when i is
    in ``out_indices`` (pooled first with ``gap_before_final_norm``).

    Layer-wise lr decay follows mmseg's / mmdet's ConvNeXt rules
    (``get_layer_id_for_convnext`` / ``get_stage_id_for_convnext``, the
    ConvNeXt release's code, which SLaK's downstream code copies); block k
    of stage i is ``stages.i.blocks.k`` (``stages.i.k``, ConvNeXt's name,
    is read the same way).

    ``layer_wise`` (ids 0-6 for depths ``[3, 3, 9, 3]``, 0-12 for
    ``[3, 3, 27, 3]``, mmseg's ``num_layers`` 6 / 12):

    - ``downsample_layers.0`` (stem) -> 0
    - ``stages.0`` -> 1, ``stages.1`` -> 2
    - block k of stage 2 -> ``3 + k // 3`` (groups of three blocks)
    - ``stages.3`` -> the last backbone id
    - ``downsample_layers.i`` (i >= 1) -> the first id of stage i, the stage
      it *precedes* (mmseg: 2, 3 and the last id)
    - ``stages.i.pos_embed`` (PeLK's kernel-wise positional embedding,
      shared by all blocks of the stage) -> the first id of stage i
    - ``norm{i}`` (the output norms) -> the head: mmseg's rules send every
      name they do not know to the head

    ``stage_wise`` (mmseg's ``get_stage_id_for_convnext``): every
    ``downsample_layers.i`` -> 0, ``stages.i`` -> ``i + 1``, ``norm{i}`` ->
    the head. mmseg's configs set ``num_layers=6`` or ``12`` for it
    although the stage ids end at 4 (see ``layer_decay_head_gap``).
    """
    layer_decay_head_gap = ('stage_wise', )

    def frozen_modules(self) -> List[nn.Module]:
        return [m for i in range(self.frozen_stages)
                for m in (self.downsample_layers[i], self.stages[i])]

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``index`` on ``x`` (after its downsampling layer)."""
        return self.stages[index](x)

    def forward(self, x):
        outs = []
        for i in range(len(self.stages)):
            x = self.forward_stage(i, self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if self.gap_before_final_norm:
                    # LN over C of the pooled (N, C, 1, 1) map.
                    outs.append(norm(x.mean((-2, -1), keepdim=True))
                                .flatten(1))
                else:
                    outs.append(norm(x))
        return tuple(outs)

    def stage_layer_ids(self, decay_type: str) -> List[Tuple[int, int]]:
        depths = self.arch_settings['depths']
        if decay_type == 'stage_wise':
            return [(i + 1, 1) for i in range(len(depths))]
        return grouped_stage_layer_ids(depths, 3)

    def layer_id(self, name: str, decay_type: str) -> Optional[int]:
        parts = name.split('.')
        stage_ids = self.stage_layer_ids(decay_type)
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
