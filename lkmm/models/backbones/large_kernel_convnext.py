"""ConvNeXt-style large-kernel backbones: PeLK, SLaK and ConvNeXt-31.

One macro design (ConvNeXt, Liu et al. 2022) with a pluggable depth-wise
large-kernel form:

* ``peripheral`` -- PeLK (Chen et al., CVPR 2024): kernels up to 101x101
  whose periphery shares parameters over exponentially growing cells, a
  kernel-wise positional embedding per stage, and only the first 3/8 of the
  channels convolved (partial peripheral convolution);
* ``stripe`` -- SLaK (Liu et al., ICLR 2023): Kx5 + 5xK + 5x5 branches;
* ``dense`` -- plain KxK with a 5x5 re-parameterization branch: ConvNeXt with
  31x31 kernels (RepLKNet appendix) and the dense 51x51 baseline of PeLK
  Table 1.

Stem: 4x4 stride-4 conv + LayerNorm. Between stages: LayerNorm + 2x2
stride-2 conv. Block: large-kernel depth-wise conv -> LayerNorm -> Linear 4C
-> GELU -> Linear C -> LayerScale -> drop path -> + identity.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath

from lkmm.layers import (
    LARGE_KERNEL_FORMS,
    KernelPositionalEmbedding,
    LayerNorm2d,
    PartialConv,
    build_large_kernel_conv,
)
from lkmm.registry import MODELS

from .arch_utils import ArchField, ArchSpec, check_choice, check_odd_positive
from .base import CONVNEXT_INIT_CFG, ConvNeXtLayoutBackbone, checkpointed


class LargeKernelConvNeXtBlock(nn.Module):
    """``large-kernel DW conv -> LN -> MLP (4C, GELU) -> LayerScale`` with a
    residual.

    Args:
        channels (int): Input/output channels C.
        large_kernel (nn.Module): The depth-wise mixer, called as
            ``large_kernel(x)`` or ``large_kernel(x, pos_embed)``.
        mlp_ratio (float): Hidden width of the MLP over C. Defaults to 4.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 for none.
            Defaults to 1e-6.
    """

    def __init__(self, channels: int, large_kernel: nn.Module,
                 mlp_ratio: float = 4., drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        self.large_kernel = large_kernel
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        hidden = int(mlp_ratio * channels)
        self.pw1 = nn.Linear(channels, hidden)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(hidden, channels)
        self.gamma = nn.Parameter(
            torch.full((channels, ), float(layer_scale_init_value))
        ) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        shortcut = x
        x = self.large_kernel(x) if pos_embed is None else \
            self.large_kernel(x, pos_embed)
        x = x.permute(0, 2, 3, 1)  # channels last for LN and the Linears
        x = self.pw2(self.act(self.pw1(self.norm(x))))
        if self.gamma is not None:
            x = x * self.gamma
        return shortcut + self.drop_path(x.permute(0, 3, 1, 2))


class LargeKernelConvNeXtStage(nn.Module):
    """The blocks of one stage and the positional embedding they share.

    Args:
        blocks (list[LargeKernelConvNeXtBlock]): The blocks.
        pos_embed (KernelPositionalEmbedding, optional): PeLK's kernel-wise
            positional embedding, shared by all blocks of the stage.
        with_cp (bool): Activation checkpointing per block.
    """

    def __init__(self, blocks, pos_embed: Optional[nn.Module] = None,
                 with_cp: bool = False):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.pos_embed = pos_embed
        self.with_cp = with_cp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embed = None if self.pos_embed is None else self.pos_embed.weight
        for block in self.blocks:
            x = checkpointed(self.with_cp, block, x, embed)
        return x


def _widths(base, factor=1.3):
    # SLaK/PeLK widen ConvNeXt by 1.3x and truncate: int(1.3 * 96) = 124.
    return [int(c * factor) for c in base]


_T, _S = [3, 3, 9, 3], [3, 3, 27, 3]
_TS_WIDTHS, _B_WIDTHS = [96, 192, 384, 768], [128, 256, 512, 1024]


@MODELS.register_module()
class LargeKernelConvNeXt(ConvNeXtLayoutBackbone):
    """PeLK / SLaK / ConvNeXt-31 backbone, registered as
    ``lkmm.LargeKernelConvNeXt``.

    Args:
        arch (str | dict): A name in :attr:`arch_zoo` (``'pelk-t'``,
            ``'pelk-s'``, ``'pelk-b'``, ``'pelk-b-101'``, ``'slak-t'``,
            ``'slak-s'``, ``'slak-b'``, ``'convnext-31-t'``,
            ``'convnext-31-s'``, ``'dense-51-t'``) or a dict with keys:

            - depths (list[int]): Blocks per stage.
            - channels (list[int]): Width per stage.
            - kernel_sizes (list[int]): Odd large kernel per stage.
            - form (str): ``'dense'``, ``'stripe'`` or ``'peripheral'``.
            - small_kernel (int | None): Odd re-parameterization kernel;
              None for none. Defaults to 5.
            - centre_size (int): Peripheral form: fine-grained centre
              width. Defaults to 5.
            - sharing_grids (list | None): Peripheral form: explicit half
              sharing grid per stage (outer -> centre), None for the
              exponential grid. Defaults to None.
            - partial_ratio (float): Fraction of channels convolved (the
              rest is identity). Defaults to 1.
            - pos_embed (bool): Peripheral form: kernel-wise positional
              embedding per stage. Defaults to False.
            - stripe_width (int): Stripe form: short side. Defaults to 5.
            - mlp_ratio (float): MLP width over C. Defaults to 4.

        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Stages whose outputs are
            returned, in ``[-4, 3]``. Defaults to ``(3, )``.
        drop_path_rate (float): Stochastic depth rate at the last block,
            increasing linearly from 0. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 disables it.
            Defaults to 1e-6.
        gap_before_final_norm (bool): Global-average-pool each returned
            output before its LayerNorm (classification), as mmpretrain's
            ConvNeXt. Defaults to True.
        norm_cfg (dict): Norm of the large-kernel branches.
            Defaults to ``dict(type='BN')``.
        frozen_stages (int): Freeze the stem and stages
            ``0..frozen_stages-1`` (with their downsampling layers); 0 (or
            -1) freezes nothing. Defaults to 0.
        norm_eval (bool): Keep BN layers in eval mode during training.
            Defaults to False.
        with_cp (bool): Activation checkpointing per block.
            Defaults to False.
        deploy (bool): Build the large kernels already deployed.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.
    """
    arch_zoo = {
        'pelk-t': dict(depths=_T, channels=_widths(_TS_WIDTHS),
                       kernel_sizes=[51, 49, 47, 13], form='peripheral',
                       partial_ratio=3 / 8, pos_embed=True),
        'pelk-s': dict(depths=_S, channels=_widths(_TS_WIDTHS),
                       kernel_sizes=[51, 49, 47, 13], form='peripheral',
                       partial_ratio=3 / 8, pos_embed=True),
        'pelk-b': dict(depths=_S, channels=_widths(_B_WIDTHS),
                       kernel_sizes=[51, 49, 47, 13], form='peripheral',
                       partial_ratio=3 / 8, pos_embed=True),
        'pelk-b-101': dict(depths=_S, channels=_widths(_B_WIDTHS),
                           kernel_sizes=[101, 69, 67, 13],
                           form='peripheral', centre_size=7,
                           partial_ratio=3 / 8, pos_embed=True),
        'slak-t': dict(depths=_T, channels=_widths(_TS_WIDTHS),
                       kernel_sizes=[51, 49, 47, 13], form='stripe'),
        'slak-s': dict(depths=_S, channels=_widths(_TS_WIDTHS),
                       kernel_sizes=[51, 49, 47, 13], form='stripe'),
        'slak-b': dict(depths=_S, channels=_widths(_B_WIDTHS),
                       kernel_sizes=[51, 49, 47, 13], form='stripe'),
        'convnext-31-t': dict(depths=_T, channels=list(_TS_WIDTHS),
                              kernel_sizes=[31, 29, 27, 13], form='dense'),
        'convnext-31-s': dict(depths=_S, channels=list(_TS_WIDTHS),
                              kernel_sizes=[31, 29, 27, 13], form='dense'),
        'dense-51-t': dict(depths=_T, channels=_widths(_TS_WIDTHS),
                           kernel_sizes=[51, 49, 47, 13], form='dense'),
    }
    arch_spec = ArchSpec(
        ArchField('depths', per_stage=True, positive_ints=True),
        ArchField('channels', per_stage=True, positive_ints=True),
        ArchField('kernel_sizes', per_stage=True),
        ArchField('form'),
        ArchField('small_kernel', 5),
        ArchField('centre_size', 5),
        ArchField('sharing_grids', None),
        ArchField('partial_ratio', 1.),
        ArchField('pos_embed', False),
        ArchField('stripe_width', 5),
        ArchField('mlp_ratio', 4.),
    )

    def __init__(self,
                 arch: Union[str, dict] = 'pelk-t',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 gap_before_final_norm: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 deploy: bool = False,
                 init_cfg: Optional[Union[dict,
                                          list]] = CONVNEXT_INIT_CFG):
        super().__init__(init_cfg=init_cfg)
        arch = self.init_contract(arch, out_indices, frozen_stages,
                                  norm_eval, with_cp)
        self.gap_before_final_norm = gap_before_final_norm
        self.channels = list(arch['channels'])

        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(nn.Sequential(
            nn.Conv2d(in_channels, self.channels[0], 4, stride=4),
            LayerNorm2d(self.channels[0], eps=1e-6)))
        for i in range(1, self.num_stages):
            self.downsample_layers.append(nn.Sequential(
                LayerNorm2d(self.channels[i - 1], eps=1e-6),
                nn.Conv2d(self.channels[i - 1], self.channels[i], 2,
                          stride=2)))

        dpr = torch.linspace(0, drop_path_rate, sum(arch['depths'])).tolist()
        self.stages = nn.ModuleList()
        block_idx = 0
        for i, (depth, channels, kernel) in enumerate(
                zip(arch['depths'], self.channels, arch['kernel_sizes'])):
            conv_channels = PartialConv.split_channels(
                channels, arch['partial_ratio'])[0] \
                if arch['partial_ratio'] < 1 else channels
            grid = arch['sharing_grids'][i] if arch['sharing_grids'] \
                else None
            blocks = []
            for _ in range(depth):
                lk = build_large_kernel_conv(
                    arch['form'], conv_channels, kernel,
                    small_kernel=_small_kernel(arch['small_kernel'], kernel),
                    norm_cfg=norm_cfg, centre_size=arch['centre_size'],
                    sharing_grid=grid, stripe_width=arch['stripe_width'],
                    deploy=deploy)
                if arch['partial_ratio'] < 1:
                    lk = PartialConv(lk, channels, arch['partial_ratio'])
                blocks.append(LargeKernelConvNeXtBlock(
                    channels, lk, mlp_ratio=arch['mlp_ratio'],
                    drop_path=dpr[block_idx],
                    layer_scale_init_value=layer_scale_init_value))
                block_idx += 1
            pos_embed = KernelPositionalEmbedding(conv_channels, kernel) \
                if arch['pos_embed'] else None
            self.stages.append(LargeKernelConvNeXtStage(
                blocks, pos_embed=pos_embed, with_cp=with_cp))

        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(self.channels[i],
                                                    eps=1e-6))
        self._freeze_stages()

    @classmethod
    def check_arch(cls, settings: dict) -> None:
        num_stages = len(settings['depths'])
        check_odd_positive('kernel_sizes', settings['kernel_sizes'])
        check_choice('form', settings['form'], LARGE_KERNEL_FORMS)
        ratio = settings['partial_ratio']
        if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ValueError('arch "partial_ratio" must be in (0, 1], got '
                             f'{ratio!r}')
        if settings['pos_embed'] and settings['form'] != 'peripheral':
            raise ValueError('arch "pos_embed" needs form "peripheral", got '
                             f'form {settings["form"]!r}')
        grids = settings['sharing_grids']
        if grids is not None and len(grids) != num_stages:
            raise ValueError('arch "sharing_grids" needs one grid (or None) '
                             f'per stage, got {len(grids)} for {num_stages} '
                             'stages')


def _small_kernel(small, kernel):
    # No small branch where the large kernel is not larger than it.
    return small if small is not None and small < kernel else None
