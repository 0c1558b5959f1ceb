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

Implementations are a table (:data:`OVERSIZED_REGISTRY`) and the choice
follows the precedence every lkmm op shares
(:func:`select_oversized_conv_plan`). ``'auto'`` runs ``'fft'`` on CPU from
16 px (train) / 8 px (inference) on and ``'torch'`` below, from the
timings in docs/depthwise_conv.md ("Oversized convolutions");
``'spatial'`` stays available as a forced choice.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .depthwise_conv import depthwise_conv2d
from .fft_depthwise_conv import fft_size
from .impl_switch import ImplRegistry, ImplSwitch

__all__ = [
    'OVERSIZED_CONV_IMPLS', 'OVERSIZED_REGISTRY', 'OversizedConvImpl',
    'OversizedConvPlan', 'oversized_conv1d', 'oversized_conv1d_fft',
    'select_oversized_conv_plan', 'plan_oversized_conv',
    'oversized_conv_impl', 'check_oversized_conv_impl'
]


@dataclass(frozen=True)
class OversizedConvImpl:
    """One implementation of the oversized 1-D convolution.

    Why: the same table-and-lookup dispatch as the depth-wise op
    (:mod:`lkmm.ops.dwconv_impls`); gradients come from autograd.

    Args:
        name (str): The name plans and the switch use.
        conv1d (Callable): ``(x, kernel, dim) -> out`` with ``x``
            ``(N, C, H, W)``, ``kernel`` ``(C, K)`` (K odd) and ``dim``
            ``-2`` or ``-1``.
    """
    name: str
    conv1d: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


#: The oversized implementations, in the order of
#: :data:`OVERSIZED_CONV_IMPLS` (registered at the end of this module).
OVERSIZED_REGISTRY: ImplRegistry[OversizedConvImpl] = ImplRegistry(
    'oversized conv')


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


def _kernel_2d(kernel: torch.Tensor, dim: int) -> torch.Tensor:
    """``(C, K)`` -> the ``(C, 1, K, 1)`` or ``(C, 1, 1, K)`` kernel."""
    c, k = kernel.shape
    return kernel.reshape((c, 1, k, 1) if dim == -2 else (c, 1, 1, k))


def _spatial_conv1d(x: torch.Tensor, kernel: torch.Tensor,
                    dim: int) -> torch.Tensor:
    """The planned depth-wise op with the 2-D form of the kernel."""
    return depthwise_conv2d(x, _kernel_2d(kernel, dim))


def _torch_conv1d(x: torch.Tensor, kernel: torch.Tensor,
                  dim: int) -> torch.Tensor:
    """Plain ``F.conv2d`` (the reference)."""
    k = kernel.shape[-1]
    padding = (k // 2, 0) if dim == -2 else (0, k // 2)
    return F.conv2d(x, _kernel_2d(kernel, dim), padding=padding,
                    groups=kernel.shape[0])


def oversized_conv1d(x: torch.Tensor, kernel: torch.Tensor, dim: int,
                     impl: str = 'spatial') -> torch.Tensor:
    """One oversized (or any odd-length) depth-wise 1-D convolution.

    Args:
        x (Tensor): ``(N, C, H, W)``.
        kernel (Tensor): ``(C, K)``.
        dim (int): ``-2`` (ParC-O-H) or ``-1`` (ParC-O-W).
        impl (str): A registered implementation: ``'torch'``,
            ``'spatial'`` or ``'fft'``.

    Returns:
        Tensor: ``(N, C, H, W)``.

    Raises:
        ValueError: ``impl`` is not registered (the message names them).
    """
    return OVERSIZED_REGISTRY.get(impl).conv1d(x, kernel, dim)


# The table, in order: one registration per implementation.
OVERSIZED_REGISTRY.register(OversizedConvImpl('torch', _torch_conv1d))
OVERSIZED_REGISTRY.register(OversizedConvImpl('spatial', _spatial_conv1d))
OVERSIZED_REGISTRY.register(OversizedConvImpl('fft', oversized_conv1d_fft))

#: Allowed values of the implementation switch.
OVERSIZED_CONV_IMPLS = ('auto', ) + OVERSIZED_REGISTRY.names()

# No environment variable: levels 1, 2 and 4 of the shared precedence.
_switch = ImplSwitch(OVERSIZED_CONV_IMPLS)


def check_oversized_conv_impl(impl: str) -> str:
    """``impl`` if it is one of :data:`OVERSIZED_CONV_IMPLS`.

    Args:
        impl (str): The value to check.

    Returns:
        str: ``impl``.

    Raises:
        ValueError: Naming the allowed values.
    """
    return _switch.check(impl)


@contextmanager
def oversized_conv_impl(impl: str) -> Iterator[None]:
    """Force the oversized-convolution implementation in this thread.

    Args:
        impl (str): ``'auto'``, ``'torch'``, ``'spatial'`` or ``'fft'``.

    Raises:
        ValueError: ``impl`` is not one of :data:`OVERSIZED_CONV_IMPLS`.
    """
    with _switch.use(impl):
        yield


# Axis lengths from which the 1-D FFT beats torch's direct kernel on CPU
# (docs/depthwise_conv.md, "Oversized convolutions"). Forward only: from 8
# pixels, as the kernel (2n-1 taps) is then wider than oneDNN's fast 13.
# With the backward pass: from 16 (torch's kernels are faster on 8-14).
_FFT_MIN_LENGTH_TRAIN = 16
_FFT_MIN_LENGTH_INFER = 8


@dataclass(frozen=True)
class OversizedConvPlan:
    """The implementation of each axis and the precedence level that chose
    it (the oversized op's counterpart of
    :class:`~lkmm.ops.DepthwiseConvPlan`).

    Args:
        h (str): Implementation of ParC-O-H.
        w (str): Implementation of ParC-O-W.
        source (str): ``'argument'``, ``'switch'`` (levels 1-2 of
            :meth:`~lkmm.ops.ImplSwitch.resolve`), ``'cpu_heuristics'`` or
            ``'off_cpu'`` (the planned depth-wise op decides per part).
    """
    h: str
    w: str
    source: str

    def as_tuple(self) -> Tuple[str, str]:
        """``(h, w)``, what :func:`plan_oversized_conv` returns."""
        return self.h, self.w


def select_oversized_conv_plan(map_size: Sequence[int],
                               device: torch.device = torch.device('cpu'),
                               impl: Optional[str] = None,
                               needs_grad: bool = True
                               ) -> OversizedConvPlan:
    """Implementation of ParC-O-H and ParC-O-W for an ``H x W`` map, by the
    precedence every lkmm op shares: ``impl`` (a module's own when not
    ``'auto'``), then the thread's switch, then the measured ``'auto'``.

    Why: the same selection mechanism as the depth-wise op
    (:func:`~lkmm.ops.select_depthwise_conv_plan`).

    Args:
        map_size (Sequence[int]): ``(H, W)``.
        device (torch.device): Device of the input.
        impl (str, optional): One of :data:`OVERSIZED_CONV_IMPLS`; the
            thread's switch (:func:`oversized_conv_impl`, default
            ``'auto'``) when None.
        needs_grad (bool): Whether a backward pass follows (training).
            Defaults to True.

    Returns:
        OversizedConvPlan: Each axis's implementation and the deciding level.

    Raises:
        ValueError: ``impl`` is not one of :data:`OVERSIZED_CONV_IMPLS`.
    """
    choice, source = _switch.resolve(impl)
    if choice != 'auto':
        return OversizedConvPlan(choice, choice, source)
    if torch.device(device).type != 'cpu':
        # Off the CPU both axes go through the planned depth-wise op, whose
        # measured rules pick per part (torch's kernel until a GPU has
        # measured a better one: the same as 'torch').
        return OversizedConvPlan('spatial', 'spatial', 'off_cpu')
    min_length = _FFT_MIN_LENGTH_TRAIN if needs_grad else \
        _FFT_MIN_LENGTH_INFER
    h, w = ('fft' if n >= min_length else 'torch' for n in map_size)
    return OversizedConvPlan(h, w, 'cpu_heuristics')


def plan_oversized_conv(map_size: Sequence[int],
                        device: torch.device = torch.device('cpu'),
                        impl: Optional[str] = None,
                        needs_grad: bool = True) -> Tuple[str, str]:
    """Implementation of ParC-O-H and ParC-O-W for an ``H x W`` map
    (:func:`select_oversized_conv_plan` as a tuple).

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

    Raises:
        ValueError: ``impl`` is not one of :data:`OVERSIZED_CONV_IMPLS`.
    """
    return select_oversized_conv_plan(map_size, device, impl,
                                      needs_grad).as_tuple()
