"""Layer-wise / stage-wise learning-rate decay for lkmm backbones.

RepLKNet's fine-tuning recipe (after ConvNeXt and BEiT): a parameter of
backbone layer ``i`` trains with ``base_lr * decay_rate ** (num_layers + 1 -
i)``, everything outside the backbone (the head, id ``num_layers + 1``) with
``base_lr``. The backbone's ``get_layer_depth`` says which layer a parameter
is in, so nothing here knows backbone classes. Conventions and grouping:
``configs/replknet/README.md``, "Layer-wise learning-rate decay".
"""
import inspect
import logging
import numbers
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor

# The backbone contract (not a backbone): the decay types it answers.
from lkmm.registry import OPTIM_WRAPPER_CONSTRUCTORS
from lkmm.utils.layer_depth import DECAY_TYPES


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optimizer wrapper constructor with layer-wise learning-rate decay.

    Registered as ``lkmm.LayerDecayOptimWrapperConstructor``, usable from
    configs of any default scope (mmpretrain, mmseg, mmdet). Layer ids come
    from the runner model's ``backbone`` (or the model itself, if it is a
    backbone); all other parameters are the head, lr scale 1. One param
    group per (layer id, decay / no decay), head first; 1-D parameters and
    ``no_decay_names`` get no weight decay, frozen ones are left out. An
    example and the details: ``configs/replknet/README.md``.

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
              config written for another arch fails loudly -- except for the
              decay types a backbone lists in ``layer_decay_head_gap``
              (the ConvNeXt-layout ones, ``stage_wise``): there it may be
              larger, as mmseg's ConvNeXt stage-wise configs
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
                ``backbone`` attribute, or a backbone itself.

        Returns:
            tuple[nn.Module, str]: The backbone and the prefix (with
            trailing dot, ``''`` when ``model`` is the backbone) its
            parameters have in ``model.named_parameters()``.
        """
        backbone = getattr(model, 'backbone', None)
        if isinstance(backbone, nn.Module):
            return backbone, 'backbone.'
        if hasattr(model, 'get_layer_depth'):
            return model, ''
        raise NotImplementedError(
            'LayerDecayOptimWrapperConstructor needs a model with a '
            f'"backbone" attribute; {type(model).__name__} has none')

    def layer_depth(self, backbone: nn.Module, name: str,
                    prefix: str) -> Tuple[int, int]:
        """``backbone.get_layer_depth(name, prefix)`` for this decay type.

        Returns:
            tuple[int, int]: The layer id and the number of ids (the
            backbone's own head id is the number minus one).
        """
        fn = getattr(backbone, 'get_layer_depth', None)
        if fn is None:
            raise NotImplementedError(
                'LayerDecayOptimWrapperConstructor asks the backbone for '
                'the layer of each parameter, but '
                f'{type(backbone).__name__} has no get_layer_depth('
                'param_name, prefix) method (lkmm\'s backbones and '
                'mmpretrain\'s ConvNeXt have one)')
        if 'decay_type' in inspect.signature(fn).parameters:
            return fn(name, prefix, decay_type=self.decay_type)
        if self.decay_type != 'layer_wise':
            raise NotImplementedError(
                f'{type(backbone).__name__}.get_layer_depth has no '
                f'decay_type argument: only decay_type "layer_wise" works '
                f'with it, got "{self.decay_type}"')
        return fn(name, prefix)

    def get_num_layers(self, backbone: nn.Module) -> int:
        """The largest layer id of ``backbone`` for this ``decay_type``.

        Args:
            backbone (nn.Module): A backbone with ``get_layer_depth``.

        Returns:
            int: ``num_layers``; the head has id ``num_layers + 1``.
        """
        # A name outside the prefix is the head: (num + 1, num + 2).
        derived = self.layer_depth(backbone, 'head', 'backbone.')[1] - 2
        gap_types = getattr(backbone, 'layer_decay_head_gap', ())
        if self.num_layers is not None and self.num_layers > derived and \
                self.decay_type in gap_types:
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
        layer_id, count = self.layer_depth(backbone, name, prefix)
        # The backbone's own head id (its output norms) is this head too.
        return num_layers + 1 if layer_id >= count - 1 else layer_id

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
