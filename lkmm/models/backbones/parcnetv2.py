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
:mod:`lkmm.ops.oversized_conv`). Two block classes share the frame
(:class:`ParCNetV2BlockBase`): the paper's (:class:`ParCNetV2PaperBlock`)
and the authors' released one (:class:`ParCNetV2ReleaseBlock`). Block k of
stage i is ``stages.i.blocks.k``, as in LargeKernelConvNeXt; checkpoints
with the older ``stages.i.k`` keys still load.
"""
from typing import List, Optional, Sequence, Tuple, Union

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

from .arch_utils import ArchField, ArchSpec, check_choice, check_odd_positive
from .base import CONVNEXT_INIT_CFG, ConvNeXtLayoutBackbone

#: The ``type`` values a ``norm_cfg`` may name, and their layers (norms of
#: ``(N, C, H, W)`` maps; the names are mmpretrain's / mmcv's).
NORM_LAYERS = {
    'LN2d': LayerNorm2d,
    'L2LN2d': L2LayerNorm2d,
    'BN': nn.BatchNorm2d,
    'SyncBN': nn.SyncBatchNorm,
}
#: The arch field ``norm``'s values and the ``norm_cfg`` each stands for.
ARCH_NORMS = {
    'LN': dict(type='LN2d', eps=1e-6),
    'BN': dict(type='BN'),
    'L2LN': dict(type='L2LN2d'),
}
NORMS = tuple(ARCH_NORMS)
#: Allowed values of the arch field ``block``.
BLOCKS = ('paper', 'release')


def check_norm_cfg(cfg) -> None:
    """Refuse a ``norm_cfg`` that :func:`build_norm` cannot build.

    Raises:
        ValueError: ``cfg`` is not a dict with a known ``type``, naming the
            allowed types.
    """
    if not isinstance(cfg, dict) or cfg.get('type') not in NORM_LAYERS:
        raise ValueError(f'norm_cfg must be a dict with type one of '
                         f'{tuple(NORM_LAYERS)}, got {cfg!r}')


def build_norm(cfg: dict, channels: int) -> nn.Module:
    """The norm layer ``cfg`` describes, over ``channels`` (local: mmcv's
    ``build_norm_layer`` knows neither LayerNorm over the channels of a
    map nor the release's L2 norm).

    Args:
        cfg (dict): ``type`` (a key of :data:`NORM_LAYERS`), the layer's
            keyword arguments (e.g. ``eps``) and optionally
            ``requires_grad`` (mmcv's; False freezes its parameters).
        channels (int): Channels C of the ``(N, C, H, W)`` maps.

    Returns:
        nn.Module: The layer.

    Raises:
        ValueError: An unknown type or an argument the layer does not take.
    """
    check_norm_cfg(cfg)
    kwargs = dict(cfg)
    layer_type = NORM_LAYERS[kwargs.pop('type')]
    requires_grad = kwargs.pop('requires_grad', True)
    try:
        layer = layer_type(channels, **kwargs)
    except TypeError as err:
        raise ValueError(f'norm_cfg {cfg!r}: {err}') from None
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer


def _frame_norm(norm_cfg: dict, channels: int) -> nn.Module:
    # Stem, downsampling and dense outputs: LayerNorm whatever the blocks
    # use (BN there would see tiny batches in dense-prediction
    # fine-tuning), the released code's L2 form with its L2 blocks.
    return L2LayerNorm2d(channels) if norm_cfg['type'] == 'L2LN2d' else \
        LayerNorm2d(channels, eps=1e-6)


class ParCNetV2BlockBase(nn.Module):
    """The MetaFormer frame both block forms share::

        x = res_scale1 * x + DropPath(gamma1 * spatial(norm1(x)))
        x = res_scale2 * x + DropPath(gamma2 * channel(norm2(x)))

    Subclasses build the two mixers; one frame keeps the names
    (``norm1``, ``spatial``, ``norm2``, ``channel``, ``res_scale1/2``,
    ``gamma1/2``) the same in both forms, so checkpoints map alike.

    Args:
        channels (int): Channels C.
        spatial (nn.Module): The token mixer, C -> C.
        channel (nn.Module): The channel mixer, C -> C.
        norm_cfg (dict): Norm before each mixer (:func:`build_norm`).
        res_scale (bool): Learnable per-channel scale on both shortcuts
            (init 1; the released code's stages 3-4). Defaults to False.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 for none.
            Defaults to 1e-6.
    """

    def __init__(self, channels: int, spatial: nn.Module, channel: nn.Module,
                 norm_cfg: dict, res_scale: bool = False,
                 drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        self.norm1 = build_norm(norm_cfg, channels)
        self.spatial = spatial
        self.norm2 = build_norm(norm_cfg, channels)
        self.channel = channel
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

    def _residual(self, x: torch.Tensor, y: torch.Tensor,
                  gamma: Optional[torch.Tensor],
                  res_scale: Optional[torch.Tensor]) -> torch.Tensor:
        """``res_scale * x + DropPath(gamma * y)``, either scale absent
        where the block has none."""
        if gamma is not None:
            y = y * gamma
        if res_scale is not None:
            x = x * res_scale
        return x + self.drop_path(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, C, H, W)``."""
        x = self._residual(x, self.spatial(self.norm1(x)), self.gamma1,
                           self.res_scale1)
        return self._residual(x, self.channel(self.norm2(x)), self.gamma2,
                              self.res_scale2)


class ParCNetV2PaperBlock(ParCNetV2BlockBase):
    """The paper's block: a spatial BGU around the ParC branch (depth-wise
    conv, then local separable and oversized convs on a channel split by
    the global ratio) and a channel BGU.

    Args:
        channels (int): Channels C.
        global_ratio (float): r of the uniform local-global conv.
        base_size (int | tuple[int, int]): Map size the oversized kernels
            are learned at (resized to every input).
        norm_cfg (dict): Norm before each mixer.
            Defaults to ``dict(type='LN2d', eps=1e-6)``.
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
        channel_dw_kernel (int): Depth-wise conv inside the channel BGU;
            0 for none. Defaults to 0.
        oversized_bias (bool): Biases in the oversized convs.
            Defaults to False.
        res_scale (bool): Learnable shortcut scales. Defaults to False.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 for none.
            Defaults to 1e-6.
        impl (str): Oversized-conv implementation. Defaults to ``'auto'``.
    """

    def __init__(self, channels: int, global_ratio: float,
                 base_size: Union[int, Tuple[int, int]],
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 expansion: float = 2.5, dw_kernel_size: int = 3,
                 local_kernel_size: int = 7, oversized: bool = True,
                 local_global: bool = True, gated: bool = True,
                 channel_dw_kernel: int = 0, oversized_bias: bool = False,
                 res_scale: bool = False, drop_path: float = 0.,
                 layer_scale_init_value: float = 1e-6, impl: str = 'auto'):
        parc = ParCBranch(channels, global_ratio, base_size,
                          dw_kernel_size=dw_kernel_size,
                          local_kernel_size=local_kernel_size,
                          oversized=oversized, local_global=local_global,
                          oversized_bias=oversized_bias, impl=impl)
        super().__init__(
            channels, SpatialBGU(channels, parc, gated=gated),
            ChannelBGU(channels, expansion, gated=gated,
                       dw_kernel_size=channel_dw_kernel),
            norm_cfg, res_scale=res_scale, drop_path=drop_path,
            layer_scale_init_value=layer_scale_init_value)


class ParCNetV2ReleaseBlock(ParCNetV2BlockBase):
    """The authors' released block (XuRuihan/ParCNetV2): its token mixer
    (:class:`lkmm.layers.ReleasedParCMixer`, local and oversized convs
    summed on all channels) and a channel BGU without the ``fc2`` bias.

    Args:
        channels (int): Channels C.
        base_size (int | tuple[int, int]): Map size the oversized kernels
            are learned at.
        norm_cfg (dict): Norm before each mixer.
            Defaults to ``dict(type='L2LN2d')``.
        expansion (float): Channel-BGU expansion. Defaults to 2.5.
        local_kernel_size (int): Local depth-wise kernel. Defaults to 7.
        res_scale (bool): Learnable shortcut scales (the release's stages
            3-4). Defaults to False.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        layer_scale_init_value (float): Initial LayerScale; 0 for none (the
            release). Defaults to 0.
        impl (str): Oversized-conv implementation. Defaults to ``'auto'``.
        resize_kernels (bool): Resize the oversized kernels to the input
            (False: the learned taps at every size, as the release).
            Defaults to False.
    """

    def __init__(self, channels: int,
                 base_size: Union[int, Tuple[int, int]],
                 norm_cfg: dict = dict(type='L2LN2d'),
                 expansion: float = 2.5, local_kernel_size: int = 7,
                 res_scale: bool = False, drop_path: float = 0.,
                 layer_scale_init_value: float = 0., impl: str = 'auto',
                 resize_kernels: bool = False):
        super().__init__(
            channels,
            ReleasedParCMixer(channels, base_size,
                              local_kernel_size=local_kernel_size, impl=impl,
                              resize_kernel=resize_kernels),
            ChannelBGU(channels, expansion, out_bias=False),
            norm_cfg, res_scale=res_scale, drop_path=drop_path,
            layer_scale_init_value=layer_scale_init_value)


class ParCNetV2Stage(nn.Module):
    """The blocks of one stage, at ``blocks.k`` (LargeKernelConvNeXt's
    layout; the backbone runs them one by one for ``with_cp``).

    Args:
        blocks (list[ParCNetV2BlockBase]): The blocks.
    """

    def __init__(self, blocks: Sequence[nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` through every block."""
        for block in self.blocks:
            x = block(x)
        return x


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

    The 26M model follows the authors' code for it (XuRuihan/ConvNeXt,
    ``parcnet_v2_b2``, the VAN-B2 layout): MLP ratios [8, 8, 4, 4], so by
    paper Eq. 3 (expansion 2/3 of the FFN ratio) channel-BGU expansions
    [5, 5, 2.5, 2.5] -- Sec. 3.4's "2.5" holds for the ratio-4 stages --
    and a 3x3 depth-wise conv inside the channel BGU (as in the 10M
    model). Parameter and FLOP counts against the paper's, with and
    without these choices, are in configs/parcnetv2/README.md.

    ``'release-xt'``, ``'release-tiny'``, ``'release-small'`` and
    ``'release-base'`` follow the authors' released code (XuRuihan/
    ParCNetV2, :class:`ParCNetV2ReleaseBlock`): its token mixer, the
    L2-normalizing LayerNorm without bias (:class:`L2LayerNorm2d`, also in
    the stem and downsampling), residual scaling in stages 3-4 and no
    LayerScale, channel BGU without the output bias, 7x7/3x3 stem and
    downsampling, L2 norms on the dense-prediction outputs, and fixed
    oversized kernels (``resize_kernels=False``: the learned 111/55/27/13
    taps at every input size with 'same' padding, as the release; the
    paper resizes them to 2H-1, the same at the training resolution).

    Ablations of Table 1 (10m, paper block only; counts in the README), as
    in the authors' ablation code:

    * ``oversized=False`` (row 3): local separable convs on all channels
      instead of the split;
    * ``gated=False`` (row 4): no multiplicative gates, same layers (see
      :mod:`lkmm.layers.gate_units`);
    * ``uniform=False`` (row 5): ParCNetV1's non-uniform layout -- the
      shallow half of the stages mixes with the depth-wise conv alone (an
      MBConv-like block), the deep half keeps the local-global conv.

    Args:
        arch (str | dict): A name in :attr:`arch_zoo` (``'10m'``, ``'26m'``,
            ``'release-xt'`` ... ``'release-base'``) or a dict with keys:

            - depths (list[int]): Blocks per stage.
            - channels (list[int]): Width per stage.
            - global_ratios (list[float]): r per stage, in [0, 1] (paper
              block). Defaults to ``[0.25, 0.5, 0.75, 1.0]``.
            - expansion (float | list[float]): Channel-BGU expansion, one or
              one per stage. Defaults to 2.5.
            - dw_kernel_size (int): Odd depth-wise kernel of the ParC
              branch (paper block). Defaults to 3.
            - local_kernel_size (int): Odd local kernel. Defaults to 7.
            - stem_kernel (int): Stem conv kernel (stride 4).
              Defaults to 7.
            - down_kernel (int): Downsampling conv kernel (stride 2).
              Defaults to 3.
            - norm (str): The default ``norm_cfg`` (see there): ``'LN'``,
              ``'BN'`` or ``'L2LN'``. Defaults to ``'LN'``.
            - channel_dw_kernel (int): Depth-wise conv in the channel BGU,
              0 for none (paper block). Defaults to 0.
            - oversized_bias (bool): Biases in the oversized convs (paper
              block). Defaults to False.
            - block (str): ``'paper'`` (:class:`ParCNetV2PaperBlock`) or
              ``'release'`` (:class:`ParCNetV2ReleaseBlock`).
              Defaults to ``'paper'``.
            - res_scale (list[bool]): Learnable shortcut scale per stage.
              Defaults to all False.
            - layer_scale (bool): LayerScale on the residual branches.
              Defaults to True.
            - resize_kernels (bool): Resize the oversized kernels to each
              input (the paper); False (``'release-*'``) keeps the learned
              taps with 'same' padding and needs block ``'release'``.
              Defaults to True.

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
        norm_cfg (dict, optional): Norm before each unit of every block:
            ``dict(type='LN2d', eps=1e-6)``, ``dict(type='BN')``,
            ``dict(type='SyncBN')`` or ``dict(type='L2LN2d')`` (types in
            :data:`NORM_LAYERS`). None (the default) takes the arch's
            ``norm`` (``'LN'``, ``'BN'``, ``'L2LN'``: the three dicts in
            :data:`ARCH_NORMS`); a dict given here overrides it. The stem,
            downsampling and dense output norms are L2 norms with
            ``L2LN2d`` and LayerNorms (eps 1e-6) otherwise.
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
        norm_eval (bool): Keep BN layers in eval mode during training.
            Defaults to False.
        with_cp (bool): Activation checkpointing per block.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.

    Raises:
        ValueError: A bad arch (naming the field), ``norm_cfg``,
            ``train_size`` or ``oversized_impl``, or an ablation switch
            with block ``'release'``.
    """
    #: No re-parameterized branch: the trained structure is the deployed one.
    deploy_arg = None
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
    arch_spec = ArchSpec(
        ArchField('depths', per_stage=True, positive_ints=True),
        ArchField('channels', per_stage=True, positive_ints=True),
        ArchField('global_ratios', [0.25, 0.5, 0.75, 1.0], per_stage=True),
        ArchField('expansion', 2.5),
        ArchField('dw_kernel_size', 3),
        ArchField('local_kernel_size', 7),
        ArchField('stem_kernel', 7),
        ArchField('down_kernel', 3),
        ArchField('norm', 'LN'),
        ArchField('channel_dw_kernel', 0),
        ArchField('oversized_bias', False),
        ArchField('block', 'paper'),
        ArchField('res_scale', [False, False, False, False], per_stage=True),
        ArchField('layer_scale', True),
        ArchField('resize_kernels', True),
    )
    #: Checkpoints from before the stages had ``blocks`` (``stages.i.k``).
    legacy_keys = ((r'stages\.(\d+)\.(\d+)\.', r'stages.\1.blocks.\2.'), )

    def __init__(self,
                 arch: Union[str, dict] = '26m',
                 in_channels: int = 3,
                 train_size: Union[int, Tuple[int, int]] = 224,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 gap_before_final_norm: bool = True,
                 norm_cfg: Optional[dict] = None,
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
        if arch['block'] == 'release' and not (oversized and gated
                                               and uniform):
            raise ValueError(
                'oversized, gated and uniform (the Table 1 ablations) apply '
                'to block "paper" only; block "release" got oversized='
                f'{oversized}, gated={gated}, uniform={uniform}')
        self.base_sizes = self._stage_maps(train_size)
        self.gap_before_final_norm = gap_before_final_norm
        self.channels = list(arch['channels'])
        if norm_cfg is None:
            norm_cfg = ARCH_NORMS[arch['norm']]
        check_norm_cfg(norm_cfg)
        self.norm_cfg = dict(norm_cfg)
        self.oversized, self.gated, self.uniform = oversized, gated, uniform
        # Stages with the local-global conv (all of them, or without the
        # uniform block only the deep half).
        self.local_global_stages = [
            uniform or i >= self.num_stages // 2
            for i in range(self.num_stages)]
        self.downsample_layers = self._make_downsample_layers(in_channels)
        self.stages = self._make_stages(
            drop_path_rate,
            layer_scale_init_value if arch['layer_scale'] else 0.,
            oversized_impl)
        self._make_out_norms()
        self._freeze_stages()

    def _stage_maps(self, train_size) -> List[Tuple[int, int]]:
        """Each stage's map at ``train_size`` (floors like the strided
        convs for multiples of 32), the size its oversized kernels are
        learned at.

        Raises:
            ValueError: ``train_size`` too small for the last stage.
        """
        train_size = nn.modules.utils._pair(train_size)
        smallest = 4 * 2**(self.num_stages - 1)
        if any(not isinstance(s, int) or s < smallest for s in train_size):
            raise ValueError(f'train_size must be ints of at least '
                             f'{smallest}, got {train_size!r}')
        return [tuple(max(1, s // (4 * 2**i)) for s in train_size)
                for i in range(self.num_stages)]

    def _make_downsample_layers(self, in_channels: int) -> nn.ModuleList:
        """The stem (conv, then norm) and the downsampling layers (norm,
        then conv) feeding each later stage."""
        sk = self.arch_settings['stem_kernel']
        dk = self.arch_settings['down_kernel']
        c = self.channels
        layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, c[0], sk, stride=4,
                      padding=_conv_padding(sk, 4)),
            _frame_norm(self.norm_cfg, c[0]))])
        for i in range(1, self.num_stages):
            layers.append(nn.Sequential(
                _frame_norm(self.norm_cfg, c[i - 1]),
                nn.Conv2d(c[i - 1], c[i], dk, stride=2,
                          padding=_conv_padding(dk, 2))))
        return layers

    def _make_stages(self, drop_path_rate: float, layer_scale: float,
                     impl: str) -> nn.ModuleList:
        """The stages, drop path rising linearly over all blocks."""
        depths = self.arch_settings['depths']
        rates = iter(torch.linspace(0, drop_path_rate, sum(depths)).tolist())
        return nn.ModuleList(
            ParCNetV2Stage([self._make_block(i, next(rates), layer_scale,
                                             impl) for _ in range(depth)])
            for i, depth in enumerate(depths))

    def _make_block(self, stage: int, drop_path: float, layer_scale: float,
                    impl: str) -> ParCNetV2BlockBase:
        """One block of ``stage``, of the class the arch's ``block``
        names (the only place that picks it)."""
        arch = self.arch_settings
        common = dict(norm_cfg=self.norm_cfg,
                      expansion=arch['expansion'][stage],
                      local_kernel_size=arch['local_kernel_size'],
                      res_scale=arch['res_scale'][stage], drop_path=drop_path,
                      layer_scale_init_value=layer_scale, impl=impl)
        channels, base = self.channels[stage], self.base_sizes[stage]
        if arch['block'] == 'release':
            return ParCNetV2ReleaseBlock(
                channels, base, resize_kernels=arch['resize_kernels'],
                **common)
        return ParCNetV2PaperBlock(
            channels, arch['global_ratios'][stage], base,
            dw_kernel_size=arch['dw_kernel_size'], oversized=self.oversized,
            local_global=self.local_global_stages[stage], gated=self.gated,
            channel_dw_kernel=arch['channel_dw_kernel'],
            oversized_bias=arch['oversized_bias'], **common)

    def _make_out_norms(self) -> None:
        """``norm{i}`` of every returned stage: the release's L2 norm on
        its dense outputs; a LayerNorm after pooling (its classifier) and
        everywhere else."""
        for i in self.out_indices:
            if self.norm_cfg['type'] == 'L2LN2d' and \
                    not self.gap_before_final_norm:
                norm = L2LayerNorm2d(self.channels[i])
            else:
                norm = LayerNorm2d(self.channels[i], eps=1e-6)
            self.add_module(f'norm{i}', norm)

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
        cls._check_block_fields(settings)
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

    @staticmethod
    def _check_block_fields(settings: dict) -> None:
        """The fields only one block class takes: ``resize_kernels=False``
        needs the release block, the channel BGU's depth-wise conv and the
        oversized biases the paper block.

        Raises:
            ValueError: naming the field.
        """
        if not isinstance(settings['resize_kernels'], bool):
            raise ValueError('arch "resize_kernels" must be a bool, got '
                             f'{settings["resize_kernels"]!r}')
        if not settings['resize_kernels'] and settings['block'] != 'release':
            raise ValueError(
                'arch "resize_kernels"=False (fixed oversized kernels, the '
                'released code\'s behaviour) needs block "release"; the '
                'paper resizes them (block "paper")')
        if settings['block'] == 'release':
            for key in ('channel_dw_kernel', 'oversized_bias'):
                if settings[key]:
                    raise ValueError(
                        f'arch "{key}" applies to block "paper" only, got '
                        f'{settings[key]!r} with block "release"')

    def forward_stage(self, index: int, x: torch.Tensor) -> torch.Tensor:
        for block in self.stages[index].blocks:
            x = self.run_checkpointed(block, x)
        return x
