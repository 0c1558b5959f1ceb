"""Structurally re-parameterized large depth-wise kernel (RepLKNet, Sec. 3).

In training, a large KxK depth-wise conv-BN runs beside a small kxk one and the
two outputs are summed: the small kernel eases optimization of the large one
(paper Table 2). For inference both branches and their BNs are folded into one
KxK convolution with bias, so the deployed model pays nothing for the branch.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv_bn import ConvBN, fuse_conv_bn
from .depthwise_conv import DepthwiseConv2d


class ReparamLargeKernelConv(nn.Module):
    """Depth-wise ``KxK conv-BN (+ kxk conv-BN)`` that folds into one conv.

    Args:
        channels (int): Input and output channels (depth-wise).
        kernel_size (int): Large kernel size K, odd.
        small_kernel (int, optional): Size k of the parallel small kernel,
            odd and smaller than K; None for no small branch.
        stride (int): Stride. Defaults to 1.
        norm_cfg (dict): Config of the norm layers. Defaults to
            ``dict(type='BN')``.
        deploy (bool): Build the folded form (``fused_conv``) directly, e.g.
            to load a deployed checkpoint. Defaults to False.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int,
                 small_kernel: Optional[int] = 5,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(
                f'kernel_size must be odd, got {kernel_size}')
        if small_kernel is not None and (small_kernel % 2 != 1
                                         or small_kernel >= kernel_size):
            raise ValueError(
                'small_kernel must be odd and smaller than kernel_size '
                f'({kernel_size}), or None; got {small_kernel}')
        self.channels = channels
        self.kernel_size = kernel_size
        self.small_kernel = small_kernel
        self.stride = stride
        if deploy:
            self.fused_conv = self._make_fused_conv()
        else:
            self.large_conv = ConvBN(
                channels, channels, kernel_size, stride=stride,
                groups=channels, norm_cfg=norm_cfg)
            if small_kernel is not None:
                self.small_conv = ConvBN(
                    channels, channels, small_kernel, stride=stride,
                    groups=channels, norm_cfg=norm_cfg)

    @property
    def deployed(self) -> bool:
        """Whether the branches have been folded into ``fused_conv``."""
        return hasattr(self, 'fused_conv')

    def _make_fused_conv(self) -> nn.Conv2d:
        return DepthwiseConv2d(self.channels, self.kernel_size,
                               stride=self.stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deployed:
            return self.fused_conv(x)
        out = self.large_conv(x)
        if hasattr(self, 'small_conv'):
            out = out + self.small_conv(x)
        return out

    @torch.no_grad()
    def get_fused_kernel_bias(self):
        """Kernel and bias of the single conv equal to the eval-mode output.

        Returns:
            tuple[Tensor, Tensor]: ``(C, 1, K, K)`` kernel and ``(C,)`` bias.
        """
        kernel, bias = fuse_conv_bn(self.large_conv.conv, self.large_conv.bn)
        if hasattr(self, 'small_conv'):
            small_kernel, small_bias = fuse_conv_bn(self.small_conv.conv,
                                                    self.small_conv.bn)
            # Both convs are centred ('same' padding): the small kernel sits
            # in the middle of the large one.
            pad = (self.kernel_size - self.small_kernel) // 2
            kernel = kernel + F.pad(small_kernel, [pad] * 4)
            bias = bias + small_bias
        return kernel, bias

    def switch_to_deploy(self) -> None:
        """Fold BN and the small branch into ``fused_conv`` (in place)."""
        if self.deployed:
            return
        kernel, bias = self.get_fused_kernel_bias()
        fused = self._make_fused_conv().to(kernel.device, kernel.dtype)
        fused.weight.data.copy_(kernel)
        fused.bias.data.copy_(bias)
        self.fused_conv = fused
        del self.large_conv
        if hasattr(self, 'small_conv'):
            del self.small_conv

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, '
                f'small_kernel={self.small_kernel}, stride={self.stride}, '
                f'deployed={self.deployed}')
