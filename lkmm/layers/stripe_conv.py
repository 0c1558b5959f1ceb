"""SLaK's decomposed large kernel: Kxw + wxK (+ kxk) depth-wise conv-BNs.

SLaK (Liu et al., ICLR 2023) scales depth-wise kernels to 51x51 by replacing
the dense KxK kernel with two parallel stripes, a tall ``K x w`` and a wide
``w x K`` one (w = 5), plus RepLKNet's small 5x5 branch, each followed by its
BN and summed (``LoRA1 + LoRA2 + small_conv`` in SLaK's code). All branches
are centred 'same' convolutions, so they fold into one dense KxK kernel with
bias -- the "51x5 + 5x51" of the PeLK paper's Table 1. Dynamic sparsity,
SLaK's second ingredient, is a training procedure and not part of the layer.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv_bn import ConvBN, fuse_conv_bn
from .depthwise_conv import DepthwiseConv2d

__all__ = ['ReparamStripeConv']


def _pad_to(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad a centred ``(C, 1, h, w)`` kernel to ``size x size``."""
    ph = (size - kernel.shape[-2]) // 2
    pw = (size - kernel.shape[-1]) // 2
    return F.pad(kernel, [pw, pw, ph, ph])


class ReparamStripeConv(nn.Module):
    """Depth-wise ``Kxw conv-BN + wxK conv-BN (+ kxk conv-BN)`` that folds
    into one dense KxK conv with bias.

    Branch names: ``tall_conv`` (K rows x w columns; SLaK's ``LoRA1``),
    ``wide_conv`` (w x K; ``LoRA2``), ``small_conv`` (k x k), each a
    :class:`ConvBN` running lkmm's depth-wise op (which takes non-square odd
    kernels).

    Args:
        channels (int): Input and output channels (depth-wise).
        kernel_size (int): Long side K, odd.
        stripe_width (int): Short side w of the stripes, odd, at most K.
            Defaults to 5 (SLaK).
        small_kernel (int, optional): Odd size of the parallel square kernel,
            smaller than K; None for none. Defaults to 5.
        norm_cfg (dict): Norm of every branch. Defaults to
            ``dict(type='BN')``.
        deploy (bool): Build the folded form (``fused_conv``) directly.
            Defaults to False.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int,
                 stripe_width: int = 5,
                 small_kernel: Optional[int] = 5,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False):
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or \
                kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be a positive odd int, got '
                             f'{kernel_size!r}')
        if not isinstance(stripe_width, int) or stripe_width % 2 != 1 or \
                not 0 < stripe_width <= kernel_size:
            raise ValueError(
                'stripe_width must be an odd int in [1, kernel_size] '
                f'([1, {kernel_size}]), got {stripe_width!r}')
        if small_kernel is not None and (
                not isinstance(small_kernel, int) or small_kernel % 2 != 1
                or not 0 < small_kernel < kernel_size):
            raise ValueError(
                'small_kernel must be odd and smaller than kernel_size '
                f'({kernel_size}), or None; got {small_kernel!r}')
        self.channels = channels
        self.kernel_size = kernel_size
        self.stripe_width = stripe_width
        self.small_kernel = small_kernel
        if deploy:
            self.fused_conv = self._make_fused_conv()
            return
        k, w = kernel_size, stripe_width
        self.tall_conv = ConvBN(channels, channels, (k, w),
                                padding=(k // 2, w // 2), groups=channels,
                                norm_cfg=norm_cfg)
        self.wide_conv = ConvBN(channels, channels, (w, k),
                                padding=(w // 2, k // 2), groups=channels,
                                norm_cfg=norm_cfg)
        if small_kernel is not None:
            self.small_conv = ConvBN(channels, channels, small_kernel,
                                     groups=channels, norm_cfg=norm_cfg)

    @property
    def deployed(self) -> bool:
        """Whether the branches have been folded into ``fused_conv``."""
        return hasattr(self, 'fused_conv')

    def _make_fused_conv(self) -> DepthwiseConv2d:
        return DepthwiseConv2d(self.channels, self.kernel_size, bias=True)

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pos_embed is not None:
            raise ValueError(
                'pos_embed (PeLK\'s kernel-wise positional embedding) is '
                'taken by the "peripheral" form only, not by "stripe"')
        if self.deployed:
            return self.fused_conv(x)
        out = self.tall_conv(x) + self.wide_conv(x)
        if hasattr(self, 'small_conv'):
            out = out + self.small_conv(x)
        return out

    @torch.no_grad()
    def get_fused_kernel_bias(self):
        """Kernel and bias of the single conv equal to the eval-mode output.

        Returns:
            tuple[Tensor, Tensor]: ``(C, 1, K, K)`` kernel, ``(C,)`` bias.
        """
        if self.deployed:
            return self.fused_conv.weight.clone(), self.fused_conv.bias.clone()
        kernel = bias = 0
        branches = [self.tall_conv, self.wide_conv]
        if hasattr(self, 'small_conv'):
            branches.append(self.small_conv)
        for branch in branches:
            # Every branch is centred: its kernel sits in the middle of KxK.
            k, b = fuse_conv_bn(branch.conv, branch.bn)
            kernel = kernel + _pad_to(k, self.kernel_size)
            bias = bias + b
        return kernel, bias

    def switch_to_deploy(self) -> None:
        """Fold the BNs and all branches into ``fused_conv`` (in place)."""
        if self.deployed:
            return
        kernel, bias = self.get_fused_kernel_bias()
        fused = self._make_fused_conv().to(kernel.device, kernel.dtype)
        fused.weight.data.copy_(kernel)
        fused.bias.data.copy_(bias)
        self.fused_conv = fused
        for name in ('tall_conv', 'wide_conv', 'small_conv'):
            if hasattr(self, name):
                delattr(self, name)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, '
                f'stripe_width={self.stripe_width}, '
                f'small_kernel={self.small_kernel}, '
                f'deployed={self.deployed}')
