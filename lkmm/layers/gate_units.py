"""ParCNetV2's bifurcate gate units (BGU, Sec. 3.2) and its ParC branch.

* :class:`ParCBranch` -- ``LocalGlobalConv`` (depth-wise conv, local and
  oversized separable convs on a channel split) then a point-wise conv
  (Sec. 3.3, Fig. 5);
* :class:`SpatialBGU` -- ``PWConv2(ParC(X) * GELU(PWConv1(X)))``;
* :class:`ChannelBGU` -- ``((X W1 + b1) * GELU(X W2 + b2)) W3 + b3`` with
  expansion 2.5 per branch (2.5 = 2 * 4 / 3 keeps the parameters of a
  4x FFN, Eq. 3).

All work on ``(N, C, H, W)`` maps; point-wise layers are 1x1 convolutions.
Each unit takes ``gated=False`` for the paper's "without BGU" ablation
(Table 1, row 4), which removes the multiplicative gate but keeps the
parameter count (9.7M in the table for both):

* spatial: the two branches become one chain,
  ``PWConv2(GELU(ParC(PWConv1(X))))`` -- the same layers, in the order of
  the authors' ablation code (``parcnet_v1_no_glu`` in XuRuihan/ConvNeXt);
* channel: a plain FFN ``GELU(X W1 + b1) W2 + b2`` of width
  ``1.5 * 2.5 C = 3.75 C``, the width Eq. 3 equates with the BGU (the
  authors' ablation code uses 4C, 0.4M more on ParCNetV2-10M than the
  table's unchanged 9.7M).
"""
from typing import Tuple, Union

import torch
import torch.nn as nn

from .depthwise_conv import DepthwiseConv2d
from .oversized_conv import LocalGlobalConv, OversizedConv2d

__all__ = ['ParCBranch', 'SpatialBGU', 'ChannelBGU', 'ReleasedParCMixer']


class ParCBranch(nn.Module):
    """The ParC branch: uniform local-global conv, then a point-wise conv.

    Args:
        channels (int): Channels C.
        global_ratio (float): r, fraction of channels through the oversized
            convs.
        base_size (int | tuple[int, int]): Map size the oversized kernels
            are learned at.
        dw_kernel_size (int): Leading depth-wise kernel. Defaults to 3.
        local_kernel_size (int): Local separable kernel. Defaults to 7.
        oversized (bool): False: local convs on all channels (ablation).
            Defaults to True.
        local_global (bool): False: the depth-wise conv only (ablation).
            Defaults to True.
        oversized_bias (bool): Biases in the oversized convs.
            Defaults to False.
        impl (str): Oversized-conv implementation. Defaults to ``'auto'``.
    """

    def __init__(self, channels: int, global_ratio: float,
                 base_size: Union[int, Tuple[int, int]],
                 dw_kernel_size: int = 3, local_kernel_size: int = 7,
                 oversized: bool = True, local_global: bool = True,
                 oversized_bias: bool = False, impl: str = 'auto'):
        super().__init__()
        self.conv = LocalGlobalConv(
            channels, global_ratio, base_size, dw_kernel_size=dw_kernel_size,
            local_kernel_size=local_kernel_size, oversized=oversized,
            local_global=local_global, oversized_bias=oversized_bias,
            impl=impl)
        self.pwconv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pwconv(self.conv(x))


class SpatialBGU(nn.Module):
    """Spatial bifurcate gate unit::

        X1 = ParC(X); X2 = GELU(PWConv1(X)); out = PWConv2(X1 * X2)

    Args:
        channels (int): Channels C (all layers keep C).
        parc (nn.Module): The feature branch, usually :class:`ParCBranch`
            (``C -> C``).
        gated (bool): False: ``PWConv2(GELU(ParC(PWConv1(X))))``, the same
            layers without the gate (Table 1 "without BGU").
            Defaults to True.
    """

    def __init__(self, channels: int, parc: nn.Module, gated: bool = True):
        super().__init__()
        self.gated = gated
        self.parc = parc
        self.pwconv1 = nn.Conv2d(channels, channels, 1)
        self.act = nn.GELU()
        self.pwconv2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.gated:
            return self.pwconv2(self.act(self.parc(self.pwconv1(x))))
        return self.pwconv2(self.parc(x) * self.act(self.pwconv1(x)))

    def extra_repr(self) -> str:
        return f'gated={self.gated}'


class ChannelBGU(nn.Module):
    """Channel bifurcate gate unit::

        X1 = X W1 + b1; X2 = GELU(X W2 + b2); out = (X1 * X2) W3 + b3

    W1 and W2 are computed by one ``C -> 2 * hidden`` point-wise conv
    (``fc1``; first half X1, second half the gate), W3 by ``fc2``.

    Args:
        channels (int): Channels C.
        expansion (float): Hidden width per branch over C (alpha tilde).
            Defaults to 2.5.
        gated (bool): False: a plain FFN ``fc2(GELU(fc1(X)))`` of width
            ``round(1.5 * expansion * C)`` -- Eq. 3's parameter-matched FFN
            (Table 1 "without BGU"). Defaults to True.
        dw_kernel_size (int): Odd kernel of a depth-wise conv (with bias)
            on ``fc1``'s output, before the split, as in the authors'
            ConvNeXt-based code of ParCNetV2-10M; 0 for none (the paper's
            equations). Defaults to 0.
        out_bias (bool): Bias of ``fc2`` (b3; the released code has none).
            Defaults to True.
    """

    def __init__(self, channels: int, expansion: float = 2.5,
                 gated: bool = True, dw_kernel_size: int = 0,
                 out_bias: bool = True):
        super().__init__()
        if not isinstance(expansion, (int, float)) or expansion <= 0:
            raise ValueError(f'expansion must be a positive number, got '
                             f'{expansion!r}')
        self.gated = gated
        if gated:
            self.hidden = int(round(expansion * channels))
            self.fc1 = nn.Conv2d(channels, 2 * self.hidden, 1)
        else:
            self.hidden = int(round(1.5 * expansion * channels))
            self.fc1 = nn.Conv2d(channels, self.hidden, 1)
        if not isinstance(dw_kernel_size, int) or dw_kernel_size < 0 or (
                dw_kernel_size and dw_kernel_size % 2 != 1):
            raise ValueError(f'dw_kernel_size must be 0 or a positive odd '
                             f'int, got {dw_kernel_size!r}')
        width = self.fc1.out_channels
        self.dwconv = DepthwiseConv2d(width, dw_kernel_size, bias=True) \
            if dw_kernel_size else None
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(self.hidden, channels, 1, bias=out_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(x)
        if self.dwconv is not None:
            x = self.dwconv(x)
        if self.gated:
            x1, x2 = x.chunk(2, dim=1)
            x = x1 * self.act(x2)
        else:
            x = self.act(x)
        return self.fc2(x)

    def extra_repr(self) -> str:
        return f'hidden={self.hidden}, gated={self.gated}'


class ReleasedParCMixer(nn.Module):
    """The token mixer of the authors' released code (XuRuihan/ParCNetV2,
    ``ParC_V2``), which differs from the paper's spatial BGU::

        X1, X2 = split(PWConv1(X))           # C -> 2C, with bias
        X2 = GELU(X2)
        X2 = ParC-O(X2) + DWConv7x7(X2)      # same channels, summed
        out = PWConv2(X1 * X2)               # no bias

    The oversized and the local depth-wise conv run on all channels and are
    summed (no channel split by a global ratio), neither with a bias.

    Args:
        channels (int): Channels C.
        base_size (int | tuple[int, int]): Map size the oversized kernels
            are learned at.
        local_kernel_size (int): Odd local depth-wise kernel. Defaults to 7.
        impl (str): Oversized-conv implementation. Defaults to ``'auto'``.
        resize_kernel (bool): Resize the oversized kernels to the input
            (see :class:`OversizedConv2d`; the release does not).
            Defaults to True.
    """

    def __init__(self, channels: int,
                 base_size: Union[int, Tuple[int, int]],
                 local_kernel_size: int = 7, impl: str = 'auto',
                 resize_kernel: bool = True):
        super().__init__()
        if not isinstance(local_kernel_size, int) or local_kernel_size < 1 \
                or local_kernel_size % 2 != 1:
            raise ValueError('local_kernel_size must be a positive odd int, '
                             f'got {local_kernel_size!r}')
        self.pwconv1 = nn.Conv2d(channels, 2 * channels, 1)
        self.act = nn.GELU()
        self.global_conv = OversizedConv2d(channels, base_size, impl=impl,
                                           resize_kernel=resize_kernel)
        self.local_conv = DepthwiseConv2d(channels, local_kernel_size)
        self.pwconv2 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.pwconv1(x).chunk(2, dim=1)
        x2 = self.act(x2)
        x2 = self.global_conv(x2) + self.local_conv(x2)
        return self.pwconv2(x1 * x2)
