"""SLaK's decomposed large kernel: Kxw + wxK (+ kxk) depth-wise conv-BNs.

SLaK (Liu et al., ICLR 2023) scales depth-wise kernels to 51x51 by replacing
the dense KxK kernel with two parallel stripes, a tall ``K x w`` and a wide
``w x K`` one (w = 5), plus RepLKNet's small 5x5 branch, each followed by its
BN and summed (``LoRA1 + LoRA2 + small_conv`` in SLaK's code). All branches
are centred 'same' convolutions, so they merge into one dense KxK kernel with
bias -- the "51x5 + 5x51" of the PeLK paper's Table 1. Dynamic sparsity,
SLaK's second ingredient, is a training procedure and not part of the layer.
"""
from typing import Optional

import torch

from .conv_bn import ConvBN
from .reparam_large_kernel import DeployableDepthwiseConv, check_small_kernel

__all__ = ['ReparamStripeConv']


class ReparamStripeConv(DeployableDepthwiseConv):
    """Depth-wise ``Kxw conv-BN + wxK conv-BN (+ kxk conv-BN)`` that deploys
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
        deploy (bool): Build the deploy form (``fused_conv``) directly.
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
        check_small_kernel(small_kernel, kernel_size)
        self.channels = channels
        self.kernel_size = kernel_size
        self.stripe_width = stripe_width
        self.small_kernel = small_kernel
        if deploy:
            self.fused_conv = self._make_deploy_conv()
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

    branch_names = ('tall_conv', 'wide_conv', 'small_conv')

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pos_embed is not None:
            raise ValueError(
                'pos_embed (PeLK\'s kernel-wise positional embedding) is '
                'taken by the "peripheral" form only, not by "stripe"')
        return super().forward(x)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, '
                f'stripe_width={self.stripe_width}, '
                f'small_kernel={self.small_kernel}, '
                f'deployed={self.deployed}')
