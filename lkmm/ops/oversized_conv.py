"""Oversized (any odd-length) depth-wise 1-D convolutions along one axis of
an ``(N, C, H, W)`` map, as ParCNetV2's ParC-O-H / ParC-O-W
(:class:`lkmm.layers.OversizedConv2d`) run them.

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
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .depthwise_conv import depthwise_conv2d
from .fft_depthwise_conv import fft_size
from .impl_switch import ImplSwitch

__all__ = [
    'OVERSIZED_CONV_IMPLS', 'oversized_conv1d', 'oversized_conv1d_fft',
    'plan_oversized_conv', 'oversized_conv_impl', 'check_oversized_conv_impl'
]

#: Allowed values of the implementation switch.
OVERSIZED_CONV_IMPLS = ('auto', 'torch', 'spatial', 'fft')

_switch = ImplSwitch(OVERSIZED_CONV_IMPLS)


def check_oversized_conv_impl(impl: str) -> str:
    """``impl`` if it is one of :data:`OVERSIZED_CONV_IMPLS`, else a
    ValueError naming the allowed values."""
    return _switch.check(impl)


@contextmanager
def oversized_conv_impl(impl: str) -> Iterator[None]:
    """Force the oversized-convolution implementation in this thread.

    Args:
        impl (str): ``'auto'``, ``'torch'``, ``'spatial'`` or ``'fft'``.
    """
    with _switch.use(impl):
        yield


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
    impl = _switch.get() if impl is None else _switch.check(impl)
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
