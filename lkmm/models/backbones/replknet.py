"""RepLKNet: "Scaling Up Your Kernels to 31x31" (Ding et al., CVPR 2022).

Architecture (paper Sec. 4.1): a stem that downsamples by 4, four stages of
``[RepLK Block, ConvFFN Block]`` pairs, and transitions (1x1 conv + stride-2
depth-wise 3x3) between stages. Every block is pre-norm (BN) with a residual.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks import DropPath

from lkmm.layers import ConvBN, ReparamLargeKernelConv
from lkmm.registry import MODELS

from .arch_utils import ArchField, ArchSpec, check_odd_positive
from .base import LargeKernelBackbone, grouped_stage_layer_ids


class RepLKBlock(nn.Module):
    """``BN -> 1x1 conv-BN-ReLU -> DW KxK (+kxk) -> ReLU -> 1x1 conv-BN``.

    Args:
        channels (int): Input/output channels C.
        dw_channels (int): Channels of the depth-wise part (``dw_ratio * C``).
        kernel_size (int): Large kernel size.
        small_kernel (int, optional): Re-parameterization kernel size.
        drop_path (float): Stochastic depth rate of the residual branch.
        norm_cfg (dict): Norm layer config.
        deploy (bool): Build the large kernel already deployed.
    """

    def __init__(self, channels, dw_channels, kernel_size, small_kernel,
                 drop_path=0., norm_cfg=dict(type='BN'), deploy=False):
        super().__init__()
        relu = dict(type='ReLU')
        self.pre_norm = build_norm_layer(norm_cfg, channels)[1]
        self.pw1 = ConvBN(channels, dw_channels, 1, norm_cfg=norm_cfg,
                          act_cfg=relu)
        self.large_kernel = ReparamLargeKernelConv(
            dw_channels, kernel_size, small_kernel, norm_cfg=norm_cfg,
            deploy=deploy)
        self.act = nn.ReLU()
        self.pw2 = ConvBN(dw_channels, channels, 1, norm_cfg=norm_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x):
        out = self.pw1(self.pre_norm(x))
        out = self.pw2(self.act(self.large_kernel(out)))
        return x + self.drop_path(out)


class ConvFFN(nn.Module):
    """``BN -> 1x1 conv-BN (ratio*C) -> GELU -> 1x1 conv-BN`` with residual.

    Args:
        channels (int): Input/output channels C.
        hidden_channels (int): Hidden channels (``ffn_ratio * C``).
        drop_path (float): Stochastic depth rate of the residual branch.
        norm_cfg (dict): Norm layer config.
    """

    def __init__(self, channels, hidden_channels, drop_path=0.,
                 norm_cfg=dict(type='BN')):
        super().__init__()
        self.pre_norm = build_norm_layer(norm_cfg, channels)[1]
        self.pw1 = ConvBN(channels, hidden_channels, 1, norm_cfg=norm_cfg)
        self.act = nn.GELU()
        self.pw2 = ConvBN(hidden_channels, channels, 1, norm_cfg=norm_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x):
        out = self.pw2(self.act(self.pw1(self.pre_norm(x))))
        return x + self.drop_path(out)


@MODELS.register_module()
class RepLKNet(LargeKernelBackbone):
    """RepLKNet backbone, registered as ``lkmm.RepLKNet``.

    A re-implementation of `Scaling Up Your Kernels to 31x31
    <https://arxiv.org/abs/2203.06717>`_ for classification (with
    mmpretrain), segmentation (mmseg) and detection (mmdet).

    Args:
        arch (str | dict): A name in :attr:`arch_zoo` -- ``'31B'``,
            ``'31L'``, ``'XL'``, or the kernel-size study of paper Table 5,
            ``'3'``, ``'7'``, ``'13'``, ``'25'``, ``'31'`` (``'31'`` equals
            ``'31B'``) -- or a dict with keys:

            - channels (list[int]): Width C_i of the four stages.
            - layers (list[int]): Number B_i of block pairs per stage.
            - kernel_sizes (list[int]): Odd large kernel size per stage.
            - small_kernel (int | None): Odd re-parameterization kernel,
              smaller than every large kernel; None for no small branch.
            - dw_ratio (float): Depth-wise width over C. Defaults to 1.
            - ffn_ratio (float): ConvFFN hidden width over C. Defaults to 4.

        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Stages whose outputs are returned,
            in ``[-4, 3]``. Defaults to ``(3, )``.
        drop_path_rate (float): Stochastic depth rate at the last block;
            increases linearly from 0 over blocks. Defaults to 0.
        norm_cfg (dict): Norm layer config (``BN`` or ``SyncBN``).
            Defaults to ``dict(type='BN')``.
        norm_intermediate_features (bool): Apply a norm layer to every
            returned stage output (RepLKNet-XL downstream). Defaults to False.
        final_norm (bool): Apply a norm layer to the last stage's output
            when it is returned (the classification model's pre-pooling
            BN). Defaults to False.
        frozen_stages (int): Freeze (no grad, eval mode) the stem and
            stages ``0..frozen_stages-1`` with the transitions that feed
            them; 0 (or -1) freezes nothing. Defaults to 0.
        norm_eval (bool): Keep norm layers in eval mode during training
            (freezes running statistics). Defaults to False.
        with_cp (bool): Activation checkpointing per block, trading compute
            for memory. Defaults to False.
        deploy (bool): Build the large kernels already deployed (the
            deployed form), e.g. to load a deployed checkpoint.
            Defaults to False.
        small_kernel_merged (bool): mmpretrain's name of ``deploy``; either
            one builds the deploy form. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """
    # Kernel-size study of paper Table 5: B=[2,2,18,2], C=[128,...,1024],
    # small kernel 5 wherever it is smaller than the large one.
    _kernel_study = {
        '3': ([3, 3, 3, 3], None),
        '7': ([7, 7, 7, 7], 5),
        '13': ([13, 13, 13, 13], 5),
        '25': ([25, 25, 25, 13], 5),
        '31': ([31, 29, 27, 13], 5),
    }
    arch_zoo = {
        **{name: dict(channels=[128, 256, 512, 1024], layers=[2, 2, 18, 2],
                      kernel_sizes=kernels, small_kernel=small, dw_ratio=1,
                      ffn_ratio=4)
           for name, (kernels, small) in _kernel_study.items()},
        '31B': dict(channels=[128, 256, 512, 1024], layers=[2, 2, 18, 2],
                    kernel_sizes=[31, 29, 27, 13], small_kernel=5,
                    dw_ratio=1, ffn_ratio=4),
        '31L': dict(channels=[192, 384, 768, 1536], layers=[2, 2, 18, 2],
                    kernel_sizes=[31, 29, 27, 13], small_kernel=5,
                    dw_ratio=1, ffn_ratio=4),
        'XL': dict(channels=[256, 512, 1024, 2048], layers=[2, 2, 18, 2],
                   kernel_sizes=[27, 27, 27, 13], small_kernel=None,
                   dw_ratio=1.5, ffn_ratio=4),
    }
    arch_spec = ArchSpec(
        ArchField('channels', per_stage=True, positive_ints=True),
        ArchField('layers', per_stage=True, positive_ints=True),
        ArchField('kernel_sizes', per_stage=True),
        ArchField('small_kernel', 5),
        ArchField('dw_ratio', 1),
        ArchField('ffn_ratio', 4),
    )
    #: lkmm checkpoints written before the output norms were renamed
    #: (``out_norm{i}`` -> ``norm{i}``, the name every lkmm backbone uses).
    legacy_keys = ((r'out_norm(\d+)\.', r'norm\1.'), )

    def __init__(self,
                 arch: Union[str, dict] = '31B',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 norm_intermediate_features: bool = False,
                 final_norm: bool = False,
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 deploy: bool = False,
                 small_kernel_merged: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        arch = self.init_contract(arch, out_indices, frozen_stages,
                                  norm_eval, with_cp)
        deploy = deploy or small_kernel_merged
        self.channels = list(arch['channels'])

        width = self.channels[0]
        relu = dict(type='ReLU')
        self.stem = nn.Sequential(
            ConvBN(in_channels, width, 3, stride=2, norm_cfg=norm_cfg,
                   act_cfg=relu),
            ConvBN(width, width, 3, groups=width, norm_cfg=norm_cfg,
                   act_cfg=relu),
            ConvBN(width, width, 1, norm_cfg=norm_cfg, act_cfg=relu),
            ConvBN(width, width, 3, stride=2, groups=width,
                   norm_cfg=norm_cfg, act_cfg=relu))

        dpr = torch.linspace(0, drop_path_rate, sum(arch['layers'])).tolist()
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        block_idx = 0
        for i, (channels, num_pairs, kernel_size) in enumerate(
                zip(self.channels, arch['layers'], arch['kernel_sizes'])):
            blocks = []
            for _ in range(num_pairs):
                blocks.append(
                    RepLKBlock(channels, int(channels * arch['dw_ratio']),
                               kernel_size, arch['small_kernel'],
                               drop_path=dpr[block_idx], norm_cfg=norm_cfg,
                               deploy=deploy))
                blocks.append(
                    ConvFFN(channels, int(channels * arch['ffn_ratio']),
                            drop_path=dpr[block_idx], norm_cfg=norm_cfg))
                block_idx += 1
            self.stages.append(nn.Sequential(*blocks))
            if i < self.num_stages - 1:
                nxt = self.channels[i + 1]
                self.transitions.append(
                    nn.Sequential(
                        ConvBN(channels, nxt, 1, norm_cfg=norm_cfg,
                               act_cfg=relu),
                        ConvBN(nxt, nxt, 3, stride=2, groups=nxt,
                               norm_cfg=norm_cfg, act_cfg=relu)))

        # Output norms, named norm{i} like mmpretrain's ConvNeXt.
        for i in self.out_indices:
            last = i == self.num_stages - 1
            if norm_intermediate_features or (final_norm and last):
                self.add_module(
                    f'norm{i}',
                    build_norm_layer(norm_cfg, self.channels[i])[1])
        self._freeze_stages()

    @classmethod
    def check_arch(cls, settings: dict) -> None:
        check_odd_positive('kernel_sizes', settings['kernel_sizes'])
        small = settings['small_kernel']
        if small is not None:
            if not isinstance(small, int) or small < 1 or small % 2 != 1:
                raise ValueError('arch "small_kernel" must be a positive odd '
                                 f'integer or None, got {small!r}')
            if small >= min(settings['kernel_sizes']):
                raise ValueError(
                    f'arch "small_kernel" ({small}) must be smaller than '
                    'every large kernel in "kernel_sizes" '
                    f'{settings["kernel_sizes"]}; use None for no small '
                    'kernel')
        for key in ('dw_ratio', 'ffn_ratio'):
            if not isinstance(settings[key], (int, float)) or \
                    settings[key] <= 0:
                raise ValueError(f'arch "{key}" must be a positive number, '
                                 f'got {settings[key]!r}')

    def forward(self, x):
        x = self.stem[0](x)
        for layer in self.stem[1:]:
            x = self.run_checkpointed(layer, x)
        outs = []
        for i, stage in enumerate(self.stages):
            for block in stage:
                x = self.run_checkpointed(block, x)
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}', None)
                outs.append(norm(x) if norm is not None else x)
            if i < self.num_stages - 1:
                x = self.transitions[i](x)
        return tuple(outs)

    def frozen_modules(self):
        if not self.frozen_stages:
            return []
        return [self.stem, *self.stages[:self.frozen_stages],
                *self.transitions[:self.frozen_stages - 1]]

    def stage_layer_ids(self, decay_type: str) -> List[Tuple[int, int]]:
        if decay_type == 'stage_wise':
            # stem + stage 0 share id 0, stage i has id i.
            return [(i, 1) for i in range(self.num_stages)]
        # Modules of the deep stage in groups of 4 (2 RepLK blocks + 2
        # ConvFFNs).
        return grouped_stage_layer_ids([len(s) for s in self.stages], 4)

    def layer_id(self, name: str, decay_type: str) -> Optional[int]:
        """Layer id after the official RepLKNet code.

        ``layer_wise`` (``get_num_layer_for_replknet`` in the official
        ``optim_factory.py``; 12 + 2 ids for ``layers=[2, 2, 18, 2]``):

        - ``stem`` -> 0
        - ``stages.0`` -> 1, ``stages.1`` -> 2
        - ``stages.2.k`` -> ``3 + k // 4``: ``stages.2`` alternates RepLK
          block and ConvFFN, so a group is 2 block pairs (9 groups, ids
          3-11, for 18 pairs)
        - ``stages.3`` -> the last backbone id (12)
        - ``transitions.i`` (between stage i and i + 1) goes with the last
          id of stage i, the stage it *follows*: 1, 2 and 11
        - ``norm{i}`` -> the head, like the official classifier's final
          norm and mmseg's ConvNeXt ``norm{i}``

        ``stage_wise``: stem, ``stages.0`` and ``transitions.0`` -> 0;
        ``stages.i`` and ``transitions.i`` -> i; ``norm{i}`` -> the head.
        """
        parts = name.split('.')
        if parts[0] == 'stem':
            return 0
        stage_ids = self.stage_layer_ids(decay_type)
        if parts[0] == 'stages':
            first, count = stage_ids[int(parts[1])]
            return first + min(int(parts[2]) // 4, count - 1)
        if parts[0] == 'transitions':
            first, count = stage_ids[int(parts[1])]
            return first + count - 1
        return None
