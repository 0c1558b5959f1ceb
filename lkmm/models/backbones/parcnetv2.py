"""ParCNetV2 (Xu et al., "ParCNetV2: Oversized Kernel with Enhanced
Attention", 2022).

A four-stage MetaFormer of ParC V2 blocks::

    x = x + DropPath(LayerScale(SpatialBGU(Norm(x))))
    x = x + DropPath(LayerScale(ChannelBGU(Norm(x))))

SpatialBGU = ``PWConv2(ParC(X) * GELU(PWConv1(X)))`` where the ParC branch is
a depth-wise conv, a channel split by the global ratio r (the first
``(1-r)C`` channels through local separable convs, the last ``rC`` through
the oversized ParC-O-H / ParC-O-W convs) and a point-wise conv; ChannelBGU =
``((X W1) * GELU(X W2)) W3`` with expansion 2.5 (see
:mod:`lkmm.layers.gate_units`, :mod:`lkmm.layers.oversized_conv`,
:mod:`lkmm.ops.oversized_conv`).
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath

from lkmm.layers import (
    ChannelBGU,
    L2LayerNorm2d,
    LayerNorm2d,
    ParCBranch,
    ReleasedParCMixer,
    SpatialBGU,
)
from lkmm.registry import MODELS

from .arch_utils import check_choice, check_odd_positive
from .base import CONVNEXT_INIT_CFG, ConvNeXtLayoutBackbone


class ParCNetV2Block(nn.Module):
    """One ParC V2 block (MetaFormer layout, LayerScale, drop path).

    Args:
        channels (int): Channels C.
        global_ratio (float): r of the uniform local-global conv.
        base_size (int | tuple[int, int]): Map size the oversized kernels
            are learned at.
        expansion (float): Channel-BGU expansion. Defaults to 2.5.
        dw_kernel_size (int): ParC branch's depth-wise kernel.
            Defaults to 3.
        local_kernel_size (int): Local separable kernel. Defaults to 7.
        oversized (bool): Oversized convs (False: local ones on the same
            channels). Defaults to True.
        local_global (bool): Local/oversized separable convs (False: the
            depth-wise conv only). Defaults to True.
        gated (bool): Bifurcate gates (False: ungated, same parameters).
            Defaults to True.
        norm (str): ``'LN'`` (LayerNorm over channels), ``'BN'`` or
            ``'L2LN'`` (:class:`L2LayerNorm2d`). Defaults to ``'LN'``.
        block (str): ``'paper'`` (spatial BGU with the ParC branch) or
            ``'release'`` (:class:`lkmm.layers.ReleasedParCMixer`, channel
            BGU without ``fc2`` bias). Defaults to ``'paper'``.
        res_scale (bool): Learnable per-channel scale on both shortcuts
            (init 1; the released code's stages 3-4). Defaults to False.
        channel_dw_kernel (int): Depth-wise conv inside the channel BGU;
            0 for none. Defaults to 0.
        oversized_bias (bool): Biases in the oversized convs.
            Defaults to False.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 for none.
            Defaults to 1e-6.
        impl (str): Oversized-conv implementation. Defaults to ``'auto'``.
        resize_kernels (bool): Resize the oversized kernels to the input
            (``block='release'`` may turn it off, as the release).
            Defaults to True.
    """

    def __init__(self, channels: int, global_ratio: float,
                 base_size: Union[int, Tuple[int, int]],
                 expansion: float = 2.5, dw_kernel_size: int = 3,
                 local_kernel_size: int = 7, oversized: bool = True,
                 local_global: bool = True, gated: bool = True,
                 norm: str = 'LN', channel_dw_kernel: int = 0,
                 oversized_bias: bool = False, block: str = 'paper',
                 res_scale: bool = False, drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6, impl: str = 'auto',
                 resize_kernels: bool = True):
        super().__init__()
        self.norm1 = _norm(norm, channels)
        if block == 'release':
            self.spatial = ReleasedParCMixer(
                channels, base_size, local_kernel_size=local_kernel_size,
                impl=impl, resize_kernel=resize_kernels)
        else:
            parc = ParCBranch(channels, global_ratio, base_size,
                              dw_kernel_size=dw_kernel_size,
                              local_kernel_size=local_kernel_size,
                              oversized=oversized, local_global=local_global,
                              oversized_bias=oversized_bias, impl=impl)
            self.spatial = SpatialBGU(channels, parc, gated=gated)
        self.norm2 = _norm(norm, channels)
        self.channel = ChannelBGU(channels, expansion, gated=gated,
                                  dw_kernel_size=channel_dw_kernel,
                                  out_bias=block != 'release')
        if res_scale:
            self.res_scale1 = nn.Parameter(torch.ones(channels, 1, 1))
            self.res_scale2 = nn.Parameter(torch.ones(channels, 1, 1))
        else:
            self.res_scale1 = self.res_scale2 = None
        if layer_scale_init_value > 0:
            self.gamma1 = nn.Parameter(
                torch.full((channels, 1, 1), float(layer_scale_init_value)))
            self.gamma2 = nn.Parameter(
                torch.full((channels, 1, 1), float(layer_scale_init_value)))
        else:
            self.gamma1 = self.gamma2 = None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.spatial(self.norm1(x))
        if self.gamma1 is not None:
            y = y * self.gamma1
        if self.res_scale1 is not None:
            x = x * self.res_scale1
        x = x + self.drop_path(y)
        y = self.channel(self.norm2(x))
        if self.gamma2 is not None:
            y = y * self.gamma2
        if self.res_scale2 is not None:
            x = x * self.res_scale2
        return x + self.drop_path(y)


#: Allowed values of the arch fields ``norm`` and ``block``.
NORMS = ('LN', 'BN', 'L2LN')
BLOCKS = ('paper', 'release')


def _norm(norm: str, channels: int) -> nn.Module:
    if norm == 'L2LN':
        return L2LayerNorm2d(channels)
    return LayerNorm2d(channels, eps=1e-6) if norm == 'LN' else \
        nn.BatchNorm2d(channels)


def _stem_norm(norm: str, channels: int) -> nn.Module:
    # Stem and downsampling: LayerNorm (BN there would see tiny batches in
    # dense-prediction fine-tuning), the released code's L2 form with it.
    return L2LayerNorm2d(channels) if norm == 'L2LN' else \
        LayerNorm2d(channels, eps=1e-6)


def _conv_padding(kernel: int, stride: int) -> int:
    # k7/s4 -> 2 and k3/s2 -> 1 (MetaFormer), k4/s4 and k2/s2 -> 0
    # (ConvNeXt): 224 -> 56 -> 28 -> 14 -> 7 either way.
    return (kernel - stride + 1) // 2


# The released code's settings: summed local 7x7 + oversized convs on the
# same channels, L2-normalizing LayerNorm without bias, residual scaling in
# stages 3-4 instead of LayerScale.
_RELEASE = dict(block='release', norm='L2LN', local_kernel_size=7,
                res_scale=[False, False, True, True], layer_scale=False,
                resize_kernels=False)


@MODELS.register_module()
class ParCNetV2(ConvNeXtLayoutBackbone):
    """ParCNetV2 backbone, registered as ``lkmm.ParCNetV2``.

    Details the paper leaves open (stem, downsampling, norm, kernel sizes)
    are taken per arch from the authors' public code, which the two models
    come from:

    * ``'10m'`` (Table 1) -- the ConvNeXt-based ablation code
      (``parcnet_v1_full_xt`` in XuRuihan/ConvNeXt): 4x4 stride-4 stem +
      LayerNorm, LayerNorm + 2x2 stride-2 downsampling, BatchNorm before
      each unit, local separable kernel 3, a 3x3 depth-wise conv (with
      bias) on the channel BGU's expanded features before the split, and
      biases in the oversized convs;
    * ``'26m'`` -- the MetaFormer-based release (XuRuihan/metaformer): 7x7
      stride-4 stem (padding 2) + LayerNorm, LayerNorm + 3x3 stride-2
      downsampling (padding 1), LayerNorm (eps 1e-6) before each unit, no
      extra depth-wise conv; local separable kernel 7 (the release's local
      kernel).

    Both: 3x3 depth-wise conv at the head of the ParC branch; oversized
    kernels learned at the stage maps of ``train_size`` (224: 56, 28, 14, 7
    -> 111, 55, 27, 13 taps) and linearly resized (``align_corners=True``)
    to ``2H-1`` / ``2W-1`` for other inputs; LayerScale on both residual
    branches (paper Sec. 4.2).

    Counts at 224x224 with a 1000-class linear head
    (:func:`lkmm.analysis.inference_complexity`, multiply-add = 1 FLOP):

    ======  =================  ==============
    arch    params (paper)     FLOPs (paper)
    ======  =================  ==============
    10m     9.65M (9.7M)       1.54G (--)
    26m     25.43M (25.6M)     4.80G (4.8G)
    ======  =================  ==============

    The 26M model follows the authors' code for it (XuRuihan/ConvNeXt,
    ``parcnet_v2_b2``, the VAN-B2 layout): MLP ratios [8, 8, 4, 4], so by
    paper Eq. 3 (expansion 2/3 of the FFN ratio) channel-BGU expansions
    [5, 5, 2.5, 2.5] -- Sec. 3.4's "2.5" holds for the ratio-4 stages --
    and a 3x3 depth-wise conv inside the channel BGU (as in the 10M
    model). With a uniform expansion of 2.5 it would stay at 24.64M /
    4.10G.

    ``'release-xt'``, ``'release-tiny'``, ``'release-small'`` and
    ``'release-base'`` follow the authors' released code (XuRuihan/
    ParCNetV2): its token mixer (:class:`lkmm.layers.ReleasedParCMixer`),
    the L2-normalizing LayerNorm without bias (:class:`L2LayerNorm2d`,
    also in the stem and downsampling), residual scaling in stages 3-4 and
    no LayerScale, channel BGU without the output bias, 7x7/3x3 stem and
    downsampling, L2 norms on the dense-prediction outputs, and fixed
    oversized kernels (``resize_kernels=False``: the learned 111/55/27/13
    taps at every input size with 'same' padding, as the release; the
    paper resizes them to 2H-1, the same at the training resolution). The
    ablation switches apply to ``block='paper'`` only.

    Ablations of Table 1 (10m; paper 9.7M full, rows 3-5: 9.6 / 9.7 /
    9.6M), as in the authors' ablation code:

    * ``oversized=False`` (row 3, 9.54M): local separable convs on all
      channels instead of the split;
    * ``gated=False`` (row 4, 9.60M): no multiplicative gates, same layers
      (see :mod:`lkmm.layers.gate_units`);
    * ``uniform=False`` (row 5, 9.62M): ParCNetV1's non-uniform layout --
      the shallow half of the stages mixes with the depth-wise conv alone
      (an MBConv-like block), the deep half keeps the local-global conv.

    Args:
        arch (str | dict): ``'10m'`` or ``'26m'`` (see :attr:`arch_zoo`) or
            a dict with keys:

            - depths (list[int]): Blocks per stage.
            - channels (list[int]): Width per stage.
            - global_ratios (list[float]): r per stage, in [0, 1].
              Defaults to ``[0.25, 0.5, 0.75, 1.0]``.
            - expansion (float): Channel-BGU expansion. Defaults to 2.5.
            - dw_kernel_size (int): Odd depth-wise kernel of the ParC
              branch. Defaults to 3.
            - local_kernel_size (int): Odd local separable kernel.
              Defaults to 7.
            - stem_kernel (int): Stem conv kernel (stride 4).
              Defaults to 7.
            - down_kernel (int): Downsampling conv kernel (stride 2).
              Defaults to 3.
            - norm (str): ``'LN'`` or ``'BN'`` before each unit.
              Defaults to ``'LN'``.
            - channel_dw_kernel (int): Depth-wise conv in the channel BGU,
              0 for none. Defaults to 0.
            - oversized_bias (bool): Biases in the oversized convs.
              Defaults to False.
            - block (str): ``'paper'`` or ``'release'`` (the released
              code's mixer: local 7x7 and oversized convs summed on the
              same channels, no split). Defaults to ``'paper'``.
            - res_scale (list[bool]): Learnable shortcut scale per stage.
              Defaults to all False.
            - layer_scale (bool): LayerScale on the residual branches.
              Defaults to True.
            - resize_kernels (bool): Resize the oversized kernels to each
              input (the paper); False (``'release-*'``) keeps the learned
              taps with 'same' padding. Needs block ``'release'`` to be
              False. Defaults to True.

        in_channels (int): Input image channels. Defaults to 3.
        train_size (int | tuple[int, int]): Input size the oversized kernels
            are learned at; stage i's kernels have ``2 * S_i - 1`` taps with
            ``S_i = train_size // (4 * 2**i)``. Defaults to 224.
        out_indices (Sequence[int] | int): Stages whose outputs are
            returned, in ``[-4, 3]``. Defaults to ``(3, )``.
        drop_path_rate (float): Stochastic depth rate at the last block,
            increasing linearly from 0. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 disables it.
            Defaults to 1e-6.
        gap_before_final_norm (bool): Global-average-pool each returned
            output before its LayerNorm (classification). Defaults to True.
        oversized (bool): Oversized convolutions (Table 1 ablation).
            Defaults to True.
        gated (bool): Bifurcate gate units (Table 1 ablation).
            Defaults to True.
        uniform (bool): Uniform local-global blocks (Table 1 ablation).
            Defaults to True.
        oversized_impl (str): ``'auto'``, ``'torch'``, ``'spatial'`` or
            ``'fft'`` (:class:`lkmm.layers.OversizedConv2d`).
            Defaults to ``'auto'``.
        frozen_stages (int): Freeze the stem and stages
            ``0..frozen_stages-1`` (with their downsampling layers); 0 (or
            -1) freezes nothing. Defaults to 0.
        norm_eval (bool): Keep BN layers (arch ``norm='BN'``) in eval mode
            during training. Defaults to False.
        with_cp (bool): Activation checkpointing per block.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.
    """
    #: No re-parameterized branch: the trained structure is the deployed one.
    folded_form_arg = None
    arch_zoo = {
        # The authors' ConvNeXt-based code of the Table 1 models
        # (parcnet_v1_full_xt in XuRuihan/ConvNeXt).
        '10m': dict(depths=[3, 3, 9, 3], channels=[48, 96, 192, 384],
                    stem_kernel=4, down_kernel=2, local_kernel_size=3,
                    norm='BN', channel_dw_kernel=3, oversized_bias=True),
        # VAN-B2 layout of the authors' code (XuRuihan/ConvNeXt,
        # parcnet_v2_b2): MLP ratios [8, 8, 4, 4] give channel-BGU
        # expansions 2/3 of them, [5, 5, 2.5, 2.5] (paper Eq. 3), and the
        # channel BGU has a 3x3 depth-wise conv as in the 10m model.
        '26m': dict(depths=[3, 3, 12, 3], channels=[64, 128, 320, 512],
                    expansion=[5, 5, 2.5, 2.5], channel_dw_kernel=3),
        # The authors' released code (XuRuihan/ParCNetV2).
        'release-xt': dict(depths=[3, 3, 9, 2], channels=[48, 96, 192, 320],
                           **_RELEASE),
        'release-tiny': dict(depths=[3, 3, 12, 3],
                             channels=[64, 128, 320, 512], **_RELEASE),
        'release-small': dict(depths=[3, 9, 24, 3],
                              channels=[64, 128, 320, 512], **_RELEASE),
        'release-base': dict(depths=[3, 9, 24, 3],
                             channels=[96, 192, 384, 576], **_RELEASE),
    }
    _arch_keys = ('depths', 'channels', 'global_ratios', 'expansion',
                  'dw_kernel_size', 'local_kernel_size', 'stem_kernel',
                  'down_kernel', 'norm', 'channel_dw_kernel',
                  'oversized_bias', 'block', 'res_scale', 'layer_scale',
                  'resize_kernels')
    _arch_required = ('depths', 'channels')
    _arch_per_stage = ('depths', 'channels', 'global_ratios', 'res_scale')
    _arch_positive_ints = ('depths', 'channels')
    _arch_defaults = dict(global_ratios=[0.25, 0.5, 0.75, 1.0], expansion=2.5,
                     dw_kernel_size=3, local_kernel_size=7, stem_kernel=7,
                     down_kernel=3, norm='LN', channel_dw_kernel=0,
                     oversized_bias=False, block='paper',
                     res_scale=[False, False, False, False],
                     layer_scale=True, resize_kernels=True)

    def __init__(self,
                 arch: Union[str, dict] = '26m',
                 in_channels: int = 3,
                 train_size: Union[int, Tuple[int, int]] = 224,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 gap_before_final_norm: bool = True,
                 oversized: bool = True,
                 gated: bool = True,
                 uniform: bool = True,
                 oversized_impl: str = 'auto',
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict,
                                          list]] = CONVNEXT_INIT_CFG):
        super().__init__(init_cfg=init_cfg)
        arch = self.init_contract(arch, out_indices, frozen_stages,
                                  norm_eval, with_cp)
        train_size = nn.modules.utils._pair(train_size)
        if any(not isinstance(s, int) or s < 4 * 2**(self.num_stages - 1)
               for s in train_size):
            raise ValueError(
                f'train_size must be ints of at least '
                f'{4 * 2**(self.num_stages - 1)}, got {train_size!r}')
        self.gap_before_final_norm = gap_before_final_norm
        self.channels = list(arch['channels'])
        self.oversized, self.gated, self.uniform = oversized, gated, uniform
        # Stages with the local-global conv (all of them, or without the
        # uniform block only the deep half).
        self.local_global_stages = [
            uniform or i >= self.num_stages // 2
            for i in range(self.num_stages)]

        sk, dk = arch['stem_kernel'], arch['down_kernel']
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(nn.Sequential(
            nn.Conv2d(in_channels, self.channels[0], sk, stride=4,
                      padding=_conv_padding(sk, 4)),
            _stem_norm(arch['norm'], self.channels[0])))
        for i in range(1, self.num_stages):
            self.downsample_layers.append(nn.Sequential(
                _stem_norm(arch['norm'], self.channels[i - 1]),
                nn.Conv2d(self.channels[i - 1], self.channels[i], dk,
                          stride=2, padding=_conv_padding(dk, 2))))

        dpr = torch.linspace(0, drop_path_rate, sum(arch['depths'])).tolist()
        self.base_sizes = []
        self.stages = nn.ModuleList()
        block_idx = 0
        for i, (depth, channels) in enumerate(
                zip(arch['depths'], self.channels)):
            # The stage's map at the training resolution (floors like the
            # strided convs for multiples of 32).
            base = tuple(max(1, s // (4 * 2**i)) for s in train_size)
            self.base_sizes.append(base)
            blocks = []
            for _ in range(depth):
                blocks.append(ParCNetV2Block(
                    channels, arch['global_ratios'][i], base,
                    expansion=arch['expansion'][i],
                    dw_kernel_size=arch['dw_kernel_size'],
                    local_kernel_size=arch['local_kernel_size'],
                    oversized=oversized,
                    local_global=self.local_global_stages[i], gated=gated,
                    norm=arch['norm'],
                    channel_dw_kernel=arch['channel_dw_kernel'],
                    oversized_bias=arch['oversized_bias'],
                    block=arch['block'], res_scale=arch['res_scale'][i],
                    drop_path=dpr[block_idx],
                    layer_scale_init_value=layer_scale_init_value
                    if arch['layer_scale'] else 0.,
                    impl=oversized_impl,
                    resize_kernels=arch['resize_kernels']))
                block_idx += 1
            self.stages.append(nn.Sequential(*blocks))

        for i in self.out_indices:
            # The release's dense-prediction outputs use its L2 norm; its
            # classifier pools, then a standard LayerNorm.
            if arch['norm'] == 'L2LN' and not gap_before_final_norm:
                norm = L2LayerNorm2d(self.channels[i])
            else:
                norm = LayerNorm2d(self.channels[i], eps=1e-6)
            self.add_module(f'norm{i}', norm)
        self._freeze_stages()

    @classmethod
    def check_arch(cls, settings: dict) -> None:
        check_choice('block', settings['block'], BLOCKS)
        if any(not isinstance(r, (int, float)) or not 0 <= r <= 1
               for r in settings['global_ratios']):
            raise ValueError('arch "global_ratios" must hold numbers in '
                             f'[0, 1], got {settings["global_ratios"]}')
        for key in ('dw_kernel_size', 'local_kernel_size'):
            check_odd_positive(key, [settings[key]])
        for key, stride in (('stem_kernel', 4), ('down_kernel', 2)):
            k = settings[key]
            if not isinstance(k, int) or k < stride:
                raise ValueError(f'arch "{key}" must be an int >= its stride '
                                 f'{stride}, got {k!r}')
        if not isinstance(settings['resize_kernels'], bool):
            raise ValueError('arch "resize_kernels" must be a bool, got '
                             f'{settings["resize_kernels"]!r}')
        if not settings['resize_kernels'] and settings['block'] != 'release':
            raise ValueError(
                'arch "resize_kernels"=False (fixed oversized kernels, the '
                'released code\'s behaviour) needs block "release"; the '
                'paper resizes them (block "paper")')
        check_choice('norm', settings['norm'], NORMS)
        k = settings['channel_dw_kernel']
        if not isinstance(k, int) or k < 0 or (k and k % 2 != 1):
            raise ValueError('arch "channel_dw_kernel" must be 0 or a '
                             f'positive odd int, got {k!r}')
        e = settings['expansion']
        if isinstance(e, (int, float)) and not isinstance(e, bool):
            e = [e] * len(settings['depths'])
        if not isinstance(e, (list, tuple)) or \
                len(e) != len(settings['depths']) or any(
                    isinstance(v, bool) or not isinstance(v, (int, float))
                    or v <= 0 for v in e):
            raise ValueError('arch "expansion" must be a positive number or '
                             'one positive number per stage, got '
                             f'{settings["expansion"]!r}')
        settings['expansion'] = list(e)

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        for block in self.stages[index]:
            x = self.run_checkpointed(block, x)
        return x
