"""Structurally re-parameterized large depth-wise kernel (RepLKNet, Sec. 3).

In training, a large KxK depth-wise conv-BN runs beside a small kxk one and the
two outputs are summed: the small kernel eases optimization of the large one
(paper Table 2). For inference both branches and their BNs are merged into one
KxK convolution with bias, so the deployed model pays nothing for the branch.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .conv_bn import ConvBN, fuse_conv_bn
from .depthwise_conv import DepthwiseConv2d


def check_small_kernel(small_kernel: Optional[int], kernel_size: int) -> None:
    """``small_kernel`` must be None or an odd int smaller than the large
    ``kernel_size``.

    Raises:
        ValueError: naming the field and the allowed values.
    """
    if small_kernel is not None and (
            not isinstance(small_kernel, int) or small_kernel % 2 != 1
            or not 0 < small_kernel < kernel_size):
        raise ValueError(
            'small_kernel must be odd and smaller than kernel_size '
            f'({kernel_size}), or None; got {small_kernel!r}')


def pad_centred(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad a centred ``(C, 1, h, w)`` kernel to ``size x size``."""
    ph = (size - kernel.shape[-2]) // 2
    pw = (size - kernel.shape[-1]) // 2
    return F.pad(kernel, [pw, pw, ph, ph])


def fuse_centred_branches(branches: Sequence[nn.Module],
                          kernel_size: int
                          ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of a sum of centred depth-wise conv-BN branches.

    Every branch is a 'same' convolution, so its kernel sits in the middle
    of the ``kernel_size`` square (RepLKNet's small kernel, SLaK's stripes).

    Args:
        branches (Sequence[ConvBN]): Modules with ``conv`` and ``bn``.
        kernel_size (int): Size K of the deployed kernel.

    Returns:
        tuple[Tensor, Tensor]: ``(C, 1, K, K)`` kernel and ``(C,)`` bias.
    """
    kernel = bias = 0
    for branch in branches:
        k, b = fuse_conv_bn(branch.conv, branch.bn)
        kernel = kernel + pad_centred(k, kernel_size)
        bias = bias + b
    return kernel, bias


class DeployableDepthwiseConv(nn.Module):
    """Base of the depth-wise convolutions whose training-time branches
    merge into one :class:`DepthwiseConv2d` with bias, ``fused_conv``.

    Subclasses set ``channels`` and ``kernel_size`` (and optionally
    ``stride`` and ``dilation``) and list their branch attributes in
    ``branch_names``: the output is the sum of the present branches, each a
    centred :class:`ConvBN` whose kernel fits in ``kernel_size``.
    """
    branch_names: Tuple[str, ...] = ()

    @property
    def depthwise_kernel_size(self) -> int:
        """The widest per-channel kernel this layer applies (how a time
        breakdown, :mod:`lkmm.analysis.breakdown`, sorts it)."""
        return max(nn.modules.utils._pair(self.kernel_size))

    @property
    def deployed(self) -> bool:
        """Whether the branches have been merged into ``fused_conv``."""
        return hasattr(self, 'fused_conv')

    def branches(self) -> List[nn.Module]:
        """The branches present (optional ones may be absent)."""
        return [getattr(self, name) for name in self.branch_names
                if hasattr(self, name)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deployed:
            return self.fused_conv(x)
        branches = self.branches()
        out = branches[0](x)
        for branch in branches[1:]:
            out = out + branch(x)
        return out

    def _make_deploy_conv(self) -> DepthwiseConv2d:
        return DepthwiseConv2d(self.channels, self.kernel_size,
                               stride=getattr(self, 'stride', 1), bias=True,
                               dilation=getattr(self, 'dilation', 1))

    @torch.no_grad()
    def get_deploy_kernel_bias(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of the single conv equal to the eval-mode output.

        Returns:
            tuple[Tensor, Tensor]: ``(C, 1, K, K)`` kernel and ``(C,)`` bias.
        """
        if self.deployed:
            return self.fused_conv.weight.clone(), self.fused_conv.bias.clone()
        return fuse_centred_branches(self.branches(), self.kernel_size)

    def switch_to_deploy(self) -> None:
        """Deploy the BNs and all branches into ``fused_conv`` (in place)."""
        if self.deployed:
            return
        kernel, bias = self.get_deploy_kernel_bias()
        fused = self._make_deploy_conv().to(kernel.device, kernel.dtype)
        fused.weight.data.copy_(kernel)
        fused.bias.data.copy_(bias)
        self.fused_conv = fused
        for name in self.branch_names:
            if hasattr(self, name):
                delattr(self, name)


class ReparamLargeKernelConv(DeployableDepthwiseConv):
    """Depth-wise ``KxK conv-BN (+ kxk conv-BN)`` that merges into one conv.

    Args:
        channels (int): Input and output channels (depth-wise).
        kernel_size (int): Large kernel size K, odd.
        small_kernel (int, optional): Size k of the parallel small kernel,
            odd and smaller than K; None for no small branch.
        stride (int): Stride. Defaults to 1.
        norm_cfg (dict): Config of the norm layers. Defaults to
            ``dict(type='BN')``.
        deploy (bool): Build the deploy form (``fused_conv``) directly, e.g.
            to load a deployed checkpoint. Defaults to False.
        dilation (int): Dilation of both kernels (each is 'same'-padded, so
            the small one stays centred on the large one's grid and still
            deploys). Defaults to 1.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int,
                 small_kernel: Optional[int] = 5,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 deploy: bool = False,
                 dilation: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(
                f'kernel_size must be odd, got {kernel_size}')
        check_small_kernel(small_kernel, kernel_size)
        self.channels = channels
        self.kernel_size = kernel_size
        self.small_kernel = small_kernel
        self.stride = stride
        self.dilation = dilation
        if deploy:
            self.fused_conv = self._make_deploy_conv()
        else:
            self.large_conv = ConvBN(
                channels, channels, kernel_size, stride=stride,
                groups=channels, norm_cfg=norm_cfg, dilation=dilation)
            if small_kernel is not None:
                self.small_conv = ConvBN(
                    channels, channels, small_kernel, stride=stride,
                    groups=channels, norm_cfg=norm_cfg, dilation=dilation)

    branch_names = ('large_conv', 'small_conv')

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, '
                f'small_kernel={self.small_kernel}, stride={self.stride}, '
                + (f'dilation={self.dilation}, ' if self.dilation != 1
                   else '') + f'deployed={self.deployed}')
