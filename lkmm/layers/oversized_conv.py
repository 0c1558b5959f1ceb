"""ParCNetV2's oversized convolution and uniform local-global convolution.

Oversized convolution (ParCNetV2, Xu et al. 2022, Sec. 3.1): a depth-wise
vertical convolution ParC-O-H with a ``(2H-1) x 1`` kernel followed by a
horizontal one ParC-O-W with a ``1 x (2W-1)`` kernel, zero padding ``H-1`` /
``W-1`` (Eqs. 1-2)::

    Y[i, j] = sum_{s=-(H-1)}^{H-1} kh[s] X[i+s, j]
    Z[i, j] = sum_{t=-(W-1)}^{W-1} kw[t] Y[i, j+t]

so every output sees the whole map, the output has the input's size, and --
because the taps that meet the input differ from row to row under zero
padding -- the operation is position aware (no positional embedding needed).

The kernels are learned at a *base* length ``2 * H0 - 1`` (H0 = the stage's
map size at the training resolution: 224 -> 56, 28, 14, 7 -> 111, 55, 27,
13) and linearly interpolated to ``2H-1`` / ``2W-1`` for any other input
(:func:`resize_oversized_kernel`).

Exact implementations, chosen per axis by :func:`plan_oversized_conv`:

* ``'spatial'`` -- :func:`lkmm.ops.depthwise_conv2d` with the ``(2H-1)x1``
  and ``1x(2W-1)`` kernels (the op itself picks oneDNN or a 2-D FFT per
  part);
* ``'fft'`` -- a 1-D real FFT along the convolved axis only
  (:func:`oversized_conv1d_fft`), ``O(L log L)`` per line instead of
  ``O(H^2)``; gradients by autograd through ``torch.fft``;
* ``'torch'`` -- plain ``F.conv2d`` (the reference).

Measured (fp32, quiet 2-core AVX-512 CPU, torch 2.14, batch 2, global
channels of ParCNetV2-26M; median ms of
``tools/analysis/benchmark_oversized_conv.py --reps 5`` (1024: 3))::

    train step (forward + backward)         forward only
    input  map   C   torch spatial   fft     torch spatial   fft
    224    56   16    11.8    5.4    4.2      3.9    1.4    1.0
    224    28   64     7.3    5.1    4.2      1.6    1.1    0.8
    224    14  240     3.5    4.6    3.9      1.0    1.0    0.7
    224     7  512     1.5    2.5    2.2      0.2    0.2    0.7
    512   128   16   121     21.6   18.0     35.7    9.3   12.0
    512    64   64    63     20.1   16.9     16.6    5.3    3.2
    512    32  240    42     20.4   18.5      8.7    4.2    3.5
    512    16  512    11.5   14.9   10.5      3.0    2.2    1.8
    1024  256   16  1177    121     87      257     39     31
    1024  128   64   507    130    101      133     24     29
    1024   64  240   267     86     64       63     17     15
    1024   32  512    90     42     33       18      7.6    8.1

In a train step the 1-D FFT is the fastest from 16 pixels on (3-13x
faster than torch at 64-256 px); at 14 px and below torch's direct kernel
wins. In a forward pass the FFT wins from 14 px on (oneDNN's direct
kernel is fast only up to 13 taps wide) and loses at 7 px (0.65 against
0.2 ms). The generic op (``'spatial'``) is within 30% of the FFT where it
wins (forward at 128 px maps) and slower elsewhere in a train step: for
the ``1 x K`` kernel's weight gradient it takes a 2-D FFT that also
transforms the other axis. So ``'auto'`` runs ``'fft'`` from 16 px (train)
/ 8 px (inference) on and ``'torch'`` below; ``'spatial'`` stays
available as a forced choice. The same script re-measures them.
"""
import threading
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from lkmm.ops import depthwise_conv2d, fft_size

__all__ = [
    'OVERSIZED_CONV_IMPLS', 'OversizedConv2d', 'LocalGlobalConv',
    'resize_oversized_kernel', 'oversized_conv1d', 'oversized_conv1d_fft',
    'plan_oversized_conv', 'oversized_conv_impl'
]

#: Allowed values of the implementation switch.
OVERSIZED_CONV_IMPLS = ('auto', 'torch', 'spatial', 'fft')

_state = threading.local()


def _check_impl(impl: str) -> str:
    if impl not in OVERSIZED_CONV_IMPLS:
        raise ValueError(f'impl must be one of {OVERSIZED_CONV_IMPLS}, got '
                         f'{impl!r}')
    return impl


@contextmanager
def oversized_conv_impl(impl: str) -> Iterator[None]:
    """Force the oversized-convolution implementation in this thread.

    Args:
        impl (str): ``'auto'``, ``'torch'``, ``'spatial'`` or ``'fft'``.
    """
    previous = getattr(_state, 'impl', None)
    _state.impl = _check_impl(impl)
    try:
        yield
    finally:
        _state.impl = previous


def resize_oversized_kernel(weight: torch.Tensor, length: int,
                            dim: int) -> torch.Tensor:
    """Linearly interpolate a 1-D depth-wise kernel to ``length`` taps.

    ``align_corners=True``: tap ``s`` of the base kernel (offset ``s`` from
    the centre, ``|s| <= H0 - 1``) lands on offset ``s * (H-1) / (H0-1)``.
    The centre stays the centre and the end taps stay the end taps, so the
    kernel is stretched with the map and keeps covering exactly the whole
    map: the output at relative position ``i / (H-1)`` sees the input at the
    same relative positions at every resolution (the scale invariance the
    paper relies on for single-scale segmentation testing, Sec. 4.4). With
    ``align_corners=False`` the end taps would be extrapolated inwards and
    the centre tap blurred with its neighbours.

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


def _place_kernel_1d(kernel: torch.Tensor, fft_len: int) -> torch.Tensor:
    """``(C, K)`` centred kernel -> ``(C, L)`` with its centre at index 0."""
    c, k = kernel.shape
    placed = kernel.new_zeros(c, fft_len)
    placed[:, :k] = kernel
    return torch.roll(placed, -(k // 2), -1)


def oversized_conv1d_fft(x: torch.Tensor, kernel: torch.Tensor,
                         dim: int) -> torch.Tensor:
    """Depth-wise zero-padded 'same' cross-correlation along one axis by a
    1-D real FFT.

    Equals ``F.conv2d(x, kernel.view(C, 1, K, 1), padding=(K // 2, 0),
    groups=C)`` for ``dim=-2`` (and the transposed form for ``dim=-1``).
    The transform length ``L >= N + K // 2`` (N the map length) is enough
    for the circular correlation to equal the linear one on the kept
    window; it is rounded up to a 2-3-5-7-smooth even size (fast FFTs).
    Autograd differentiates through ``torch.fft`` exactly.

    Args:
        x (Tensor): ``(N, C, H, W)`` input.
        kernel (Tensor): ``(C, K)`` kernel, K odd (any K: taps farther than
            the map extends never meet an input and are cropped).
        dim (int): ``-2`` (along H) or ``-1`` (along W).

    Returns:
        Tensor: ``(N, C, H, W)``.
    """
    n = x.shape[dim]
    k = kernel.shape[-1]
    reach = min(k // 2, n - 1)
    kernel = kernel[:, k // 2 - reach:k // 2 + reach + 1]
    fft_len = fft_size(n + reach)
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else \
        torch.float32
    if dim == -2:
        # Work on the last axis: rfft along H via a transpose view.
        x = x.transpose(-1, -2)
    spec = torch.fft.rfft(x.to(dtype), n=fft_len, dim=-1)
    kspec = torch.fft.rfft(_place_kernel_1d(kernel.to(dtype), fft_len),
                           dim=-1).conj()
    out = torch.fft.irfft(spec * kspec[:, None, :], n=fft_len, dim=-1)
    out = out[..., :n]
    if dim == -2:
        out = out.transpose(-1, -2)
    return out.contiguous().to(x.dtype)


def oversized_conv1d(x: torch.Tensor, kernel: torch.Tensor, dim: int,
                     impl: str = 'spatial') -> torch.Tensor:
    """One oversized (or any odd-length) depth-wise 1-D convolution.

    Args:
        x (Tensor): ``(N, C, H, W)``.
        kernel (Tensor): ``(C, K)``.
        dim (int): ``-2`` (ParC-O-H) or ``-1`` (ParC-O-W).
        impl (str): ``'torch'``, ``'spatial'`` or ``'fft'``.
    """
    if impl == 'fft':
        return oversized_conv1d_fft(x, kernel, dim)
    c, k = kernel.shape
    shape = (c, 1, k, 1) if dim == -2 else (c, 1, 1, k)
    if impl == 'spatial':
        return depthwise_conv2d(x, kernel.reshape(shape))
    if impl != 'torch':
        raise ValueError(f'impl must be "torch", "spatial" or "fft", got '
                         f'{impl!r}')
    padding = (k // 2, 0) if dim == -2 else (0, k // 2)
    return F.conv2d(x, kernel.reshape(shape), padding=padding, groups=c)


# Axis lengths from which the 1-D FFT beats torch's direct kernel on CPU
# (measurements in the module docstring). Forward only: from 8 pixels, as
# the kernel (2n-1 taps) is then wider than oneDNN's fast 13. With the
# backward pass: from 16 (torch's kernels are faster on 8-14 there).
_FFT_MIN_LENGTH_TRAIN = 16
_FFT_MIN_LENGTH_INFER = 8


def plan_oversized_conv(map_size: Sequence[int],
                        device: torch.device = torch.device('cpu'),
                        impl: Optional[str] = None,
                        needs_grad: bool = True) -> Tuple[str, str]:
    """Implementation of ParC-O-H and ParC-O-W for an ``H x W`` map.

    Args:
        map_size (Sequence[int]): ``(H, W)``.
        device (torch.device): Device of the input.
        impl (str, optional): ``'auto'``, ``'torch'``, ``'spatial'`` or
            ``'fft'``; the thread's switch (:func:`oversized_conv_impl`,
            default ``'auto'``) when None.
        needs_grad (bool): Whether a backward pass follows (training).
            Defaults to True.

    Returns:
        tuple[str, str]: The implementation (``'torch'``, ``'spatial'`` or
        ``'fft'``) of the H and of the W convolution.
    """
    if impl is None:
        impl = getattr(_state, 'impl', None) or 'auto'
    _check_impl(impl)
    if impl != 'auto':
        return impl, impl
    if torch.device(device).type != 'cpu':
        # Off the CPU both axes go through the planned depth-wise op, whose
        # measured rules pick per part (torch's kernel until a GPU has
        # measured a better one: the same as 'torch').
        return 'spatial', 'spatial'
    min_length = _FFT_MIN_LENGTH_TRAIN if needs_grad else \
        _FFT_MIN_LENGTH_INFER
    return tuple('fft' if n >= min_length else 'torch' for n in map_size)


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
        self.impl = _check_impl(impl)
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
