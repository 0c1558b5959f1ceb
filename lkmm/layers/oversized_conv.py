"""ParCNetV2's oversized convolution and uniform local-global convolution.

Oversized convolution (ParCNetV2, Sec. 3.1, Eqs. 1-2): a depth-wise
``(2H-1) x 1`` then ``1 x (2W-1)`` convolution with zero padding, so every
output sees the whole map and the operation is position aware. The kernels
are learned at a base length ``2 * H0 - 1`` and interpolated for other
inputs (:func:`resize_oversized_kernel`); the 1-D convolutions are
:mod:`lkmm.ops.oversized_conv`. Equations and why: ``docs/layers.md``.
"""
from typing import Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from lkmm.ops import (
    check_oversized_conv_impl,
    depthwise_conv2d,
    oversized_conv1d,
    plan_oversized_conv,
)

__all__ = ['OversizedConv2d', 'LocalGlobalConv', 'resize_oversized_kernel']

def resize_oversized_kernel(weight: torch.Tensor, length: int,
                            dim: int) -> torch.Tensor:
    """Linearly interpolate a 1-D depth-wise kernel to ``length`` taps.

    ``align_corners=True``: tap ``s`` of the base kernel lands on offset
    ``s * (H-1) / (H0-1)``, so the kernel keeps covering exactly the whole
    map at every resolution (why: ``docs/layers.md``).

    Args:
        weight (Tensor): ``(C, 1, K0, 1)`` (``dim=-2``) or ``(C, 1, 1, K0)``
            (``dim=-1``) kernel, K0 odd.
        length (int): Target length, odd and positive.
        dim (int): ``-2`` (vertical kernel) or ``-1`` (horizontal).

    Returns:
        Tensor: The kernel with ``length`` taps along ``dim`` (``weight``
        itself when the length already matches).
    """
    if length < 1 or length % 2 != 1:
        raise ValueError(f'length must be a positive odd int, got {length}')
    if dim not in (-2, -1):
        raise ValueError(f'dim must be -2 or -1, got {dim}')
    base = int(weight.shape[dim])
    if base == length:
        return weight
    if length == 1:
        # A 1-pixel map only meets the centre tap (interpolating to one
        # sample with align_corners=True would return the first tap).
        centre = base // 2
        return weight.narrow(dim, centre, 1)
    size = (length, 1) if dim == -2 else (1, length)
    return F.interpolate(weight, size=size, mode='bilinear',
                         align_corners=True)


class OversizedConv2d(nn.Module):
    """Depth-wise ParC-O-H ``(2H-1)x1`` then ParC-O-W ``1x(2W-1)`` with zero
    padding (ParCNetV2 Eqs. 1-2); output of the input's size.

    Args:
        channels (int): Input and output channels (depth-wise).
        base_size (int | tuple[int, int]): Map size ``(H0, W0)`` the kernels
            are learned at (the stage's map at the training resolution, e.g.
            56 for stage 1 at 224); kernels have ``2*H0-1`` and ``2*W0-1``
            taps and are linearly resized to ``2H-1`` / ``2W-1`` for an
            ``H x W`` input (:func:`resize_oversized_kernel`).
        bias (bool): Learn a bias for each of the two convolutions (the
            paper's equations have none). Defaults to False.
        resize_kernel (bool): Resize the kernels to ``2H-1`` / ``2W-1``
            (the paper). False applies the learned ``2*H0-1`` / ``2*W0-1``
            taps at every input size with 'same' zero padding, as the
            authors' released code does (equal at the base size).
            Defaults to True.
        impl (str): ``'auto'`` (per axis length,
            :func:`plan_oversized_conv`), ``'torch'``, ``'spatial'`` or
            ``'fft'``; the thread switch :func:`oversized_conv_impl`
            overrides ``'auto'``. Defaults to ``'auto'``.
    """

    def __init__(self, channels: int,
                 base_size: Union[int, Tuple[int, int]],
                 bias: bool = False, impl: str = 'auto',
                 resize_kernel: bool = True):
        super().__init__()
        base = nn.modules.utils._pair(base_size)
        if any(not isinstance(s, int) or s < 1 for s in base):
            raise ValueError(f'base_size must be positive ints, got '
                             f'{base_size!r}')
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'channels must be a positive int, got '
                             f'{channels!r}')
        self.channels = channels
        self.base_size = base
        self.impl = check_oversized_conv_impl(impl)
        self.resize_kernel = bool(resize_kernel)
        # Shaped as depth-wise Conv2d kernels so initializers and converters
        # treat them as such.
        self.weight_h = nn.Parameter(torch.empty(channels, 1,
                                                 2 * base[0] - 1, 1))
        self.weight_w = nn.Parameter(torch.empty(channels, 1, 1,
                                                 2 * base[1] - 1))
        self.bias_h = nn.Parameter(torch.zeros(channels)) if bias else None
        self.bias_w = nn.Parameter(torch.zeros(channels)) if bias else None
        self.reset_parameters()

    @property
    def depthwise_kernel_size(self) -> int:
        """The widest per-channel kernel this layer applies (how a time
        breakdown, :mod:`lkmm.analysis.breakdown`, sorts it)."""
        return max(self.weight_h.shape[-2], self.weight_w.shape[-1])

    def reset_parameters(self) -> None:
        # nn.Conv2d's default (kaiming uniform, a=sqrt(5)) for a depth-wise
        # kernel: bound 1/sqrt(fan_in) with fan_in = K.
        for w in (self.weight_h, self.weight_w):
            bound = 1. / w[0].numel()**0.5
            nn.init.uniform_(w, -bound, bound)

    @property
    def kernel_size(self) -> Tuple[int, int]:
        """Base kernel lengths ``(2*H0-1, 2*W0-1)``."""
        return self.weight_h.shape[-2], self.weight_w.shape[-1]

    def kernels_for(self, h: int, w: int) -> Tuple[torch.Tensor,
                                                   torch.Tensor]:
        """The ``(C, 2H-1)`` and ``(C, 2W-1)`` kernels for an ``H x W``
        map (the base kernels, ``(C, 2*H0-1)`` and ``(C, 2*W0-1)``, without
        ``resize_kernel``)."""
        if not self.resize_kernel:
            return self.weight_h.flatten(1), self.weight_w.flatten(1)
        kh = resize_oversized_kernel(self.weight_h, 2 * h - 1, -2)
        kw = resize_oversized_kernel(self.weight_w, 2 * w - 1, -1)
        return kh.flatten(1), kw.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Python ints: a traced graph is specific to its input size anyway
        # (the kernels are resized to it).
        h, w = (int(s) for s in x.shape[-2:])
        kh, kw = self.kernels_for(h, w)
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            # FLOP counters and exported graphs see real convolutions.
            impl_h = impl_w = 'torch'
        else:
            needs_grad = torch.is_grad_enabled() and (
                x.requires_grad or self.weight_h.requires_grad)
            impl_h, impl_w = plan_oversized_conv(
                (h, w), x.device,
                None if self.impl == 'auto' else self.impl, needs_grad)
        x = oversized_conv1d(x, kh, -2, impl_h)
        if self.bias_h is not None:
            x = x + self.bias_h.view(1, -1, 1, 1)
        x = oversized_conv1d(x, kw, -1, impl_w)
        if self.bias_w is not None:
            x = x + self.bias_w.view(1, -1, 1, 1)
        return x

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, base_size={self.base_size}, '
                f'kernel_size={self.kernel_size}, impl={self.impl!r}')


class LocalGlobalConv(nn.Module):
    """ParCNetV2's uniform local-global convolution (Sec. 3.3, Fig. 5)::

        X* = DWConv(X)
        Y_local  = Conv-W(Conv-H(X*[:, :(1-r)C]))       # k x 1, then 1 x k
        Y_global = ParC-O-W(ParC-O-H(X*[:, (1-r)C:]))   # oversized
        out = [Y_local, Y_global]

    (the point-wise convolution that follows belongs to the ParC branch,
    :class:`lkmm.layers.ParCBranch`).

    Args:
        channels (int): Channels C.
        global_ratio (float): r, the fraction of channels through the
            oversized convs, in [0, 1]; ``round(r * C)`` channels.
        base_size (int | tuple[int, int]): Map size the oversized kernels
            are learned at (see :class:`OversizedConv2d`).
        dw_kernel_size (int): Odd kernel of the leading standard depth-wise
            conv. Defaults to 3.
        local_kernel_size (int): Odd k of the local separable convs.
            Defaults to 7.
        oversized (bool): False replaces the oversized convs by local
            separable ones on the same channels (ablation "without
            oversized conv"). Defaults to True.
        local_global (bool): False keeps only the depth-wise conv -- the
            MBConv-like mixer of ParCNetV1's shallow stages (ablation
            "without the uniform block"). Defaults to True.
        oversized_bias (bool): Biases in the oversized convs (the authors'
            ConvNeXt-based code has them). Defaults to False.
        impl (str): Oversized-conv implementation (see
            :class:`OversizedConv2d`). Defaults to ``'auto'``.
    """

    def __init__(self, channels: int, global_ratio: float,
                 base_size: Union[int, Tuple[int, int]],
                 dw_kernel_size: int = 3, local_kernel_size: int = 7,
                 oversized: bool = True, local_global: bool = True,
                 oversized_bias: bool = False, impl: str = 'auto'):
        super().__init__()
        for name, k in (('dw_kernel_size', dw_kernel_size),
                        ('local_kernel_size', local_kernel_size)):
            if not isinstance(k, int) or k < 1 or k % 2 != 1:
                raise ValueError(f'{name} must be a positive odd int, got '
                                 f'{k!r}')
        if not isinstance(global_ratio, (int, float)) or \
                not 0 <= global_ratio <= 1:
            raise ValueError(f'global_ratio must be in [0, 1], got '
                             f'{global_ratio!r}')
        self.channels = channels
        self.local_global = local_global
        self.global_channels = int(round(global_ratio * channels)) \
            if local_global and oversized else 0
        self.local_channels = channels - self.global_channels \
            if local_global else 0
        self.oversized = oversized
        self.dw_weight = nn.Parameter(torch.empty(channels, 1, dw_kernel_size,
                                                  dw_kernel_size))
        self.dw_bias = nn.Parameter(torch.zeros(channels))
        k = local_kernel_size
        self.local_kernel_size = k
        n_local = self.local_channels
        self.local_h = nn.Parameter(torch.empty(n_local, 1, k, 1)) \
            if n_local else None
        self.local_w = nn.Parameter(torch.empty(n_local, 1, 1, k)) \
            if n_local else None
        self.global_conv = OversizedConv2d(
            self.global_channels, base_size, bias=oversized_bias,
            impl=impl) if self.global_channels else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in (self.dw_weight, self.local_h, self.local_w):
            if w is not None:
                bound = 1. / w[0].numel()**0.5
                nn.init.uniform_(w, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = depthwise_conv2d(x, self.dw_weight, self.dw_bias)
        if self.global_conv is None:
            if self.local_h is None:
                return x
            return depthwise_conv2d(depthwise_conv2d(x, self.local_h),
                                    self.local_w)
        parts = []
        if self.local_h is not None:
            local = x[:, :self.local_channels]
            parts.append(depthwise_conv2d(depthwise_conv2d(
                local, self.local_h), self.local_w))
        parts.append(self.global_conv(x[:, self.local_channels:]))
        return torch.cat(parts, 1) if len(parts) > 1 else parts[0]

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, local={self.local_channels}, '
                f'global={self.global_channels}, '
                f'local_kernel_size={self.local_kernel_size}, '
                f'oversized={self.oversized}')
