"""MobileNetV2 with configurable depth-wise kernels: the network of
RepLKNet's large-kernel guidelines (Ding et al., CVPR 2022, Sec. 3,
Tables 2-4; arXiv appendix, dense vs dilated kernels, Table 12).

The layout is MobileNetV2's (Sandler et al., CVPR 2018): a stride-2 3x3
conv, then inverted residual blocks ``1x1 expand -> DW kxk -> 1x1 project``
in seven groups (expansion, width, repeats, stride): (1, 16, 1, 1),
(6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
(6, 320, 1, 1), and a 1x1 conv to 1280 channels before pooling.

lkmm groups them by resolution, as the other lkmm backbones, so that the
backbone contract's four stages hold (stage ``i`` returns stride
``2 ** (i + 2)``):

* ``stem`` (112x112 at 224): the 3x3 conv and the expansion-1 block;
* stage 0 (56x56): the 24-wide group; stage 1 (28x28): the 32-wide group;
* stage 2 (14x14): the 64- and 96-wide groups;
* stage 3 (7x7): the 160- and 320-wide groups -- the paper's *last stage*
  ("the stage with input resolution 7x7"; its Appendix D names "the first
  stride-1 13x13 conv in the last stage", so the stage starts with the
  stride-2 block that brings 14x14 down to 7x7);
* ``final_conv``: the 1x1 conv to 1280 channels, applied to the last
  stage's output (classification; None for dense prediction, where mmseg's
  MobileNetV2 configs read the 320-wide stage).

Every depth-wise conv is a :class:`~lkmm.layers.ReparamLargeKernelConv`: a
kxk conv-BN with an optional parallel small conv-BN (Guideline 3's 3x3
re-parameterization) that ``switch_to_deploy`` merges into one kernel, and an
optional dilation (Table 12's dilated kernels: a kxk kernel with dilation r
reaches as far as a dense ``(k - 1) * r + 1`` one).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer

from lkmm.layers import ConvBN, ReparamLargeKernelConv
from lkmm.registry import MODELS

from .arch_utils import ArchField, ArchSpec, check_odd_positive
from .base import LargeKernelBackbone

#: mmpretrain's MobileNetV2 initialization (Kaiming convs, BN weight 1).
MOBILENET_V2_INIT_CFG = [
    dict(type='Kaiming', layer=['Conv2d']),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
]


def kernel_reach(kernel_size: int, dilation: int = 1) -> int:
    """Side of the square a ``kernel_size`` kernel with ``dilation`` spans:
    ``(kernel_size - 1) * dilation + 1``."""
    return (kernel_size - 1) * dilation + 1


class InvertedResidual(nn.Module):
    """MobileNetV2's block: ``[1x1 conv-BN-act] -> DW kxk (+ small) -> act
    -> 1x1 conv-BN``, plus the input when ``shortcut`` is on and the shapes
    allow it (stride 1, same width).

    Args:
        in_channels (int): Input width.
        out_channels (int): Output width.
        stride (int): Stride of the depth-wise conv (1 or 2).
        expand_ratio (float): Hidden width over ``in_channels``; 1 leaves
            out the expansion conv.
        kernel_size (int): Depth-wise kernel size, odd.
        dilation (int): Depth-wise kernel dilation.
        small_kernel (int, optional): Parallel small kernel merged into the
            large one; None for none.
        shortcut (bool): Add the identity where the shapes allow.
        norm_cfg (dict): Norm layer config.
        act_cfg (dict): Activation config.
        deploy (bool): Build the depth-wise conv deployed.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: float, kernel_size: int, dilation: int,
                 small_kernel: Optional[int], shortcut: bool,
                 norm_cfg: dict, act_cfg: dict, deploy: bool = False):
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.expand_conv = ConvBN(
            in_channels, hidden, 1, norm_cfg=norm_cfg,
            act_cfg=act_cfg) if expand_ratio != 1 else nn.Identity()
        self.dw_conv = ReparamLargeKernelConv(
            hidden, kernel_size, small_kernel, stride=stride,
            norm_cfg=norm_cfg, deploy=deploy, dilation=dilation)
        self.dw_act = build_activation_layer(act_cfg)
        self.project_conv = ConvBN(hidden, out_channels, 1, norm_cfg=norm_cfg)
        self.has_shortcut = bool(shortcut and stride == 1
                                 and in_channels == out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project_conv(
            self.dw_act(self.dw_conv(self.expand_conv(x))))
        return x + out if self.has_shortcut else out


@MODELS.register_module()
class LargeKernelMobileNetV2(LargeKernelBackbone):
    """MobileNetV2 with per-stage depth-wise kernels, registered as
    ``lkmm.LargeKernelMobileNetV2`` (see the module docstring for the
    stages).

    Args:
        arch (str | dict): A name in :attr:`arch_zoo` (one per model of
            RepLKNet's Tables 2, 3, 4 and 12, e.g. ``'k13-rep3'``) or a dict
            with ``kernel_sizes`` and any of the keys below (the others take
            MobileNetV2's values):

            - kernel_sizes (list[int]): Odd depth-wise kernel size of each
              stage; the stem's block takes stage 0's.
            - kernel_dilations (list[int]): Dilation of each stage's
              depth-wise kernels (1: dense). Defaults to ``[1, 1, 1, 1]``.
            - small_kernel (int | None): Odd size of the parallel
              re-parameterization kernel, added to every depth-wise conv
              whose kernel is larger; None for none. Defaults to None.
            - shortcut (bool): Identity shortcuts (False: the shortcut-free
              MobileNetV2 of Table 2). Defaults to True.
            - channels (list[list[int]]): Widths of each stage's groups.
              Defaults to ``[[24], [32], [64, 96], [160, 320]]``.
            - repeats (list[list[int]]): Blocks of each group, same shape.
              Defaults to ``[[2], [3], [4, 3], [3, 1]]``.
            - expand_ratio (float): Expansion of the stage blocks.
              Defaults to 6.
            - stem_channels (list[int]): Widths of the stem conv and of its
              expansion-1 block. Defaults to ``[32, 16]``.

        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Stages returned, in ``[-4, 3]``.
            Defaults to ``(3, )``.
        strides (Sequence[int]): Stride (1 or 2) of each stage's first
            block. Defaults to ``(2, 2, 2, 2)``; ``(2, 2, 1, 1)`` with
            ``dilations=(1, 1, 2, 4)`` is mmseg's output-stride-8
            MobileNetV2.
        dilations (Sequence[int]): Dilation of the depth-wise conv of the
            first block of each group of each stage (as mmseg's MobileNetV2
            dilates its layers), multiplying the arch's
            ``kernel_dilations``. Defaults to ``(1, 1, 1, 1)``.
        final_channels (int | None): Width of the 1x1 conv-BN-act applied to
            the last stage's output (MobileNetV2's 1280-wide layer before
            pooling); None for none (segmentation). Defaults to 1280.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config. Defaults to
            ``dict(type='ReLU6')``.
        frozen_stages (int): Freeze the stem and stages
            ``0..frozen_stages-1``; 0 (or -1) freezes nothing. Defaults to 0.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False.
        with_cp (bool): Activation checkpointing per block. Defaults to
            False.
        deploy (bool): Build the depth-wise convs deployed (one kernel with
            bias), e.g. to load a deployed checkpoint. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization; defaults to
            mmpretrain's MobileNetV2 one (Kaiming convs, BN weight 1).
    """
    arch_zoo = {
        # Tables 2-4: every DW conv 3x3 (MobileNetV2), 9x9 or 13x13, with
        # or without the 3x3 re-parameterization, with or without
        # shortcuts; only the last stage enlarged (re-parameterized).
        'k3': dict(kernel_sizes=[3, 3, 3, 3]),
        'k3-noshortcut': dict(kernel_sizes=[3, 3, 3, 3], shortcut=False),
        'k9': dict(kernel_sizes=[9, 9, 9, 9]),
        'k9-rep3': dict(kernel_sizes=[9, 9, 9, 9], small_kernel=3),
        'k13': dict(kernel_sizes=[13, 13, 13, 13]),
        'k13-noshortcut': dict(kernel_sizes=[13, 13, 13, 13],
                               shortcut=False),
        'k13-rep3': dict(kernel_sizes=[13, 13, 13, 13], small_kernel=3),
        'last7-rep3': dict(kernel_sizes=[3, 3, 3, 7], small_kernel=3),
        'last13-rep3': dict(kernel_sizes=[3, 3, 3, 13], small_kernel=3),
        # Table 12: dense kernels against 3x3 ones dilated to the same
        # reach (9, 13, 17).
        'k17': dict(kernel_sizes=[17, 17, 17, 17]),
        'k3-dil4': dict(kernel_sizes=[3, 3, 3, 3],
                        kernel_dilations=[4, 4, 4, 4]),
        'k3-dil6': dict(kernel_sizes=[3, 3, 3, 3],
                        kernel_dilations=[6, 6, 6, 6]),
        'k3-dil8': dict(kernel_sizes=[3, 3, 3, 3],
                        kernel_dilations=[8, 8, 8, 8]),
    }
    arch_spec = ArchSpec(
        ArchField('channels', [[24], [32], [64, 96], [160, 320]],
                  per_stage=True),
        ArchField('repeats', [[2], [3], [4, 3], [3, 1]], per_stage=True),
        ArchField('kernel_sizes', per_stage=True),
        ArchField('kernel_dilations', [1, 1, 1, 1], per_stage=True,
                  positive_ints=True),
        ArchField('small_kernel', None),
        ArchField('shortcut', True),
        ArchField('expand_ratio', 6),
        ArchField('stem_channels', [32, 16]),
    )

    def __init__(self,
                 arch: Union[str, dict] = 'k3',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 strides: Sequence[int] = (2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 final_channels: Optional[int] = 1280,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg: Optional[Union[dict, list]] = (
                     MOBILENET_V2_INIT_CFG)):
        super().__init__(init_cfg=init_cfg)
        arch = self.init_contract(arch, out_indices, frozen_stages,
                                  norm_eval, with_cp)
        self.strides = self._check_per_stage('strides', strides, (1, 2))
        self.dilations = self._check_per_stage('dilations', dilations)
        last = self.num_stages - 1
        if final_channels is not None:
            if isinstance(final_channels, bool) or not isinstance(
                    final_channels, int) or final_channels < 1:
                raise ValueError('final_channels must be a positive int or '
                                 f'None, got {final_channels!r}')
            if last not in self.out_indices:
                raise ValueError(
                    f'final_channels={final_channels} builds a conv on the '
                    f'last stage ({last}), which out_indices '
                    f'{self.out_indices} does not return; set '
                    'final_channels=None')

        def block(in_ch, out_ch, stride, expand_ratio, stage, dilation):
            kernel = arch['kernel_sizes'][stage]
            small = arch['small_kernel']
            return InvertedResidual(
                in_ch, out_ch, stride, expand_ratio, kernel,
                arch['kernel_dilations'][stage] * dilation,
                small if small is not None and small < kernel else None,
                arch['shortcut'], norm_cfg, act_cfg, deploy=deploy)

        stem_conv, stem_block = arch['stem_channels']
        self.stem = nn.Sequential(
            ConvBN(in_channels, stem_conv, 3, stride=2, norm_cfg=norm_cfg,
                   act_cfg=act_cfg),
            block(stem_conv, stem_block, 1, 1, stage=0, dilation=1))
        width = stem_block
        self.stages = nn.ModuleList()
        for i, (group_channels, group_repeats) in enumerate(
                zip(arch['channels'], arch['repeats'])):
            blocks = []
            for channels, repeats in zip(group_channels, group_repeats):
                for j in range(repeats):
                    stride = self.strides[i] if not blocks else 1
                    # mmseg's MobileNetV2 dilates the first block of each
                    # group only.
                    dilation = self.dilations[i] if j == 0 else 1
                    blocks.append(block(width, channels, stride,
                                        arch['expand_ratio'], i, dilation))
                    width = channels
            self.stages.append(nn.Sequential(*blocks))
        self.channels = [group[-1] for group in arch['channels']]
        self.final_conv = None
        if final_channels is not None:
            self.final_conv = ConvBN(width, final_channels, 1,
                                     norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.channels[last] = final_channels
        self._freeze_stages()

    def _check_per_stage(self, name: str, values: Sequence[int],
                         allowed: Optional[Tuple[int, ...]] = None
                         ) -> Tuple[int, ...]:
        """``values`` as a tuple of one positive int per stage (one of
        ``allowed`` if given)."""
        ok = isinstance(values, Sequence) and len(values) == \
            self.num_stages and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1
                and (allowed is None or v in allowed) for v in values)
        if not ok:
            what = f'one of {allowed}' if allowed else 'a positive int'
            raise ValueError(f'{name} must hold {self.num_stages} entries, '
                             f'each {what}; got {values!r}')
        return tuple(values)

    @classmethod
    def check_arch(cls, settings: dict) -> None:
        kernels = settings['kernel_sizes']
        check_odd_positive('kernel_sizes', kernels)
        small = settings['small_kernel']
        if small is not None:
            if isinstance(small, bool) or not isinstance(small, int) or \
                    small < 1 or small % 2 != 1:
                raise ValueError('arch "small_kernel" must be a positive odd '
                                 f'integer or None, got {small!r}')
            if small >= max(kernels):
                raise ValueError(
                    f'arch "small_kernel" ({small}) must be smaller than '
                    f'some kernel in "kernel_sizes" {kernels} (it is added '
                    'only beside larger ones); use None for no small '
                    'kernel')
        if not isinstance(settings['shortcut'], bool):
            raise ValueError('arch "shortcut" must be True or False, got '
                             f'{settings["shortcut"]!r}')
        ratio = settings['expand_ratio']
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) \
                or ratio <= 0:
            raise ValueError('arch "expand_ratio" must be a positive number, '
                             f'got {ratio!r}')
        stem = settings['stem_channels']
        if not isinstance(stem, Sequence) or len(stem) != 2 or any(
                isinstance(c, bool) or not isinstance(c, int) or c < 1
                for c in stem):
            raise ValueError('arch "stem_channels" must be two positive '
                             f'integers, got {stem!r}')
        for channels, repeats in zip(settings['channels'],
                                     settings['repeats']):
            for key, groups in (('channels', channels),
                                ('repeats', repeats)):
                if not isinstance(groups, Sequence) or not groups or any(
                        isinstance(v, bool) or not isinstance(v, int)
                        or v < 1 for v in groups):
                    raise ValueError(
                        f'arch "{key}" must hold one non-empty list of '
                        'positive integers per stage (one entry per group), '
                        f'got {settings[key]!r}')
            if len(channels) != len(repeats):
                raise ValueError(
                    'arch "channels" and "repeats" must have one entry per '
                    f'group in every stage, got {settings["channels"]!r} '
                    f'and {settings["repeats"]!r}')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.stem[0](x)
        x = self.run_checkpointed(self.stem[1], x)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage:
                x = self.run_checkpointed(block, x)
            if i in self.out_indices:
                if i == self.num_stages - 1 and self.final_conv is not None:
                    outs.append(self.run_checkpointed(self.final_conv, x))
                else:
                    outs.append(x)
        return tuple(outs)

    def frozen_modules(self) -> List[nn.Module]:
        if not self.frozen_stages:
            return []
        return [self.stem, *self.stages[:self.frozen_stages]]

    def stage_layer_ids(self, decay_type: str) -> List[Tuple[int, int]]:
        """``layer_wise``: one id per block (the stem 0, then the blocks in
        order); ``stage_wise``: one id per stage."""
        ids, first = [], 1
        for stage in self.stages:
            count = len(stage) if decay_type == 'layer_wise' else 1
            ids.append((first, count))
            first += count
        return ids

    def layer_id(self, name: str, decay_type: str) -> Optional[int]:
        """The stem 0; block k of stage i its own id (``layer_wise``) or
        stage i's id; ``final_conv`` with the head, like the other
        backbones' output norms."""
        parts = name.split('.')
        if parts[0] == 'stem':
            return 0
        if parts[0] == 'stages':
            first, count = self.stage_layer_ids(decay_type)[int(parts[1])]
            block = int(parts[2]) if len(parts) > 2 and \
                parts[2].isdigit() else 0
            return first + min(block, count - 1)
        return None
