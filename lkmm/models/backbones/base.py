"""Behaviour every lkmm backbone shares: the OpenMMLab backbone contract
(``frozen_stages``, ``norm_eval``, ``with_cp``, a checked pre-trained
``init_cfg``) and the ConvNeXt layout's forward."""
from typing import List

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from .arch_utils import check_pretrained_checkpoint


class LargeKernelBackbone(BaseModule):
    """Base of lkmm's backbones.

    Subclasses set ``frozen_stages``, ``norm_eval`` and ``with_cp`` in
    ``__init__`` and say which modules a frozen stage holds
    (:meth:`frozen_modules`).
    """

    def set_training_options(self, frozen_stages: int, norm_eval: bool,
                             with_cp: bool, min_frozen: int = 0) -> None:
        """Check and store the backbone contract's options (call after
        ``self.num_stages`` is set).

        Raises:
            ValueError: ``frozen_stages`` outside ``[min_frozen,
                num_stages]``.
        """
        if isinstance(frozen_stages, bool) or not isinstance(
                frozen_stages, int) or not (
                    min_frozen <= frozen_stages <= self.num_stages):
            raise ValueError(
                f'frozen_stages must be an int in [{min_frozen}, '
                f'{self.num_stages}], got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

    def frozen_modules(self) -> List[nn.Module]:
        """The modules that ``frozen_stages`` freezes."""
        raise NotImplementedError

    def run_checkpointed(self, module: nn.Module, x: torch.Tensor, *args):
        """``module(x, *args)``, with activation checkpointing when
        ``with_cp`` is set and gradients flow (saves memory, costs one
        more forward)."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(module, x, *args, use_reentrant=False)
        return module(x, *args)

    def init_weights(self):
        check_pretrained_checkpoint(type(self).__name__, self.init_cfg)
        super().init_weights()

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


class ConvNeXtLayoutBackbone(LargeKernelBackbone):
    """ConvNeXt's layout: ``downsample_layers[i]`` (the stem for i = 0)
    then ``stages[i]``; stage i's output goes through ``norm{i}`` when i is
    in ``out_indices`` (pooled first with ``gap_before_final_norm``)."""

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
