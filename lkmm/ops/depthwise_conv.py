"""Fast depth-wise KxK convolution for large kernels, no build step.

RepLKNet's first guideline (paper Sec. 3, Table 1) is that large depth-wise
kernels are cheap only if the convolution is implemented well. On CPU,
PyTorch's (oneDNN) depth-wise kernel is fast while the kernel is at most 13
wide, then drops to ~10 GFLOP/s, and its weight gradient is slow for every
kernel size. This module computes the stride-1 'same' depth-wise convolution
and both its gradients with FFTs where that is faster:

* forward: ``y = irfft2(rfft2(x) * conj(rfft2(w)))`` (cross-correlation);
* input gradient: ``dx = irfft2(rfft2(dy) * rfft2(w))``;
* weight gradient: ``dw = irfft2(sum_n rfft2(x) * conj(rfft2(dy)))`` -- the
  batch is summed in the frequency domain, so only C inverse transforms.

The transforms are zero-padded to ``L >= H + K // 2`` per dimension, which
is enough for the circular convolution to equal the linear one on the
``H x W`` output (no wrap-around reaches a kept position), and taps farther
than the map extends (``K > 2H - 1``, e.g. RepLKNet's 13x13 kernels on 7x7
maps) are cropped before transforming, since they never meet an input.
Channels are processed in chunks sized to stay in cache.

Which implementation runs is decided per part (forward, input gradient,
weight gradient) from shape, device and dtype by :func:`plan_depthwise_conv`;
``'torch'`` everywhere is the reference (``F.conv2d``). The choice can be
forced with :func:`set_depthwise_conv_impl`, the context manager
:func:`depthwise_conv_impl` or the environment variable ``LKMM_DWCONV_IMPL``
(``auto`` | ``torch`` | ``fft``).
"""
import os
import threading
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

__all__ = [
    'DWCONV_IMPLS', 'depthwise_conv2d', 'plan_depthwise_conv',
    'set_depthwise_conv_impl', 'get_depthwise_conv_impl',
    'depthwise_conv_impl', 'fft_size'
]

#: Allowed values of the implementation switch.
DWCONV_IMPLS = ('auto', 'torch', 'fft')

# The widest kernel oneDNN's depth-wise kernel handles at full speed on CPU
# (measured with torch 2.14: 145 GFLOP/s at 13x13, 7 GFLOP/s at 14x14; only
# the kernel *width* matters: 31x13 still runs at ~90 GFLOP/s).
_ONEDNN_MAX_FAST_WIDTH = 13
# Map area from which the FFT weight gradient beats torch's for 5x5 kernels.
_FFT_MIN_WEIGHT_GRAD_AREA_5X5 = 400
# Bytes of complex spectra per channel chunk: small enough to stay in the
# L2/L3 caches between the forward and the inverse transform.
_CHUNK_BYTES = 2 << 20

_state = threading.local()


def _env_impl() -> str:
    impl = os.environ.get('LKMM_DWCONV_IMPL', 'auto').strip().lower()
    if impl not in DWCONV_IMPLS:
        raise ValueError(f'LKMM_DWCONV_IMPL must be one of {DWCONV_IMPLS}, '
                         f'got {impl!r}')
    return impl


def _check_impl(impl: str) -> str:
    if impl not in DWCONV_IMPLS:
        raise ValueError(f'impl must be one of {DWCONV_IMPLS}, got {impl!r}')
    return impl


def get_depthwise_conv_impl() -> str:
    """The implementation switch in effect in this thread.

    Returns:
        str: ``'auto'`` (choose per shape), ``'torch'`` (reference
        ``F.conv2d`` everywhere) or ``'fft'`` (FFTs everywhere they apply).
    """
    impl = getattr(_state, 'impl', None)
    return impl if impl is not None else _env_impl()


def set_depthwise_conv_impl(impl: Optional[str]) -> None:
    """Set the implementation switch for this thread.

    Args:
        impl (str, optional): ``'auto'``, ``'torch'`` or ``'fft'``; None
            goes back to the environment (``LKMM_DWCONV_IMPL``, default
            ``'auto'``).
    """
    _state.impl = None if impl is None else _check_impl(impl)


@contextmanager
def depthwise_conv_impl(impl: str) -> Iterator[None]:
    """Use ``impl`` for depth-wise convolutions inside the ``with`` block.

    Args:
        impl (str): ``'auto'``, ``'torch'`` or ``'fft'``.

    Example:
        >>> with depthwise_conv_impl('torch'):  # the reference path
        ...     out = model(x)
    """
    previous = getattr(_state, 'impl', None)
    _state.impl = _check_impl(impl)
    try:
        yield
    finally:
        _state.impl = previous


def fft_size(n: int) -> int:
    """Smallest even integer ``>= n`` whose prime factors are 2, 3, 5 and 7.

    Such sizes transform fastest: measured with torch 2.14 on CPU, an odd
    size costs up to 2x more than the next even smooth one (45 vs 48) and a
    size with a large prime factor up to 10x (47 vs 48).

    Args:
        n (int): Minimum size, positive.
    """
    if n < 1:
        raise ValueError(f'n must be positive, got {n}')
    m = n + (n % 2)
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 2


def _geometry(size: int, kernel: int) -> Tuple[int, int]:
    """``(reach, fft_len)`` for one dimension: the kernel taps farther than
    ``size - 1`` from the centre never meet an input and are cropped."""
    reach = min(kernel // 2, size - 1)
    return reach, fft_size(size + reach)


def _supported_by_fft(dtype: torch.dtype) -> bool:
    return dtype in (torch.float32, torch.float64, torch.float16,
                     torch.bfloat16)


def plan_depthwise_conv(input_shape: Sequence[int],
                        kernel_size: Sequence[int],
                        device: torch.device = torch.device('cpu'),
                        dtype: torch.dtype = torch.float32,
                        impl: Optional[str] = None) -> Dict[str, str]:
    """Which implementation computes each part of a depth-wise convolution.

    Args:
        input_shape (Sequence[int]): ``(N, C, H, W)``.
        kernel_size (Sequence[int]): ``(KH, KW)``, both odd.
        device (torch.device): Device of the input.
        dtype (torch.dtype): Dtype of the input.
        impl (str, optional): Switch to plan for; the one in effect
            (:func:`get_depthwise_conv_impl`) when None.

    Returns:
        dict: ``forward``, ``grad_input`` and ``grad_weight``, each
        ``'torch'`` or ``'fft'``.
    """
    impl = get_depthwise_conv_impl() if impl is None else _check_impl(impl)
    parts = ('forward', 'grad_input', 'grad_weight')
    if impl == 'torch' or not _supported_by_fft(dtype) or \
            max(kernel_size) == 1:
        return dict.fromkeys(parts, 'torch')
    if impl == 'fft':
        return dict.fromkeys(parts, 'fft')
    if torch.device(device).type != 'cpu':
        # Measured on CPU only; the vendor kernels stay the default
        # elsewhere until a GPU benchmark says otherwise.
        return dict.fromkeys(parts, 'torch')
    h, w = input_shape[-2:]
    # The taps that meet the input (the kernel is cropped to them).
    kh = 2 * _geometry(h, kernel_size[0])[0] + 1
    kw = 2 * _geometry(w, kernel_size[1])[0] + 1
    if max(kh, kw) <= 3:
        # Memory bound whatever the kernel: nothing to gain.
        return dict.fromkeys(parts, 'torch')
    # oneDNN runs the (cropped) kernel at full speed up to 13 wide in fp32
    # and bf16 (fp16 and fp64 have no fast CPU kernel at all).
    fast_direct = kw <= _ONEDNN_MAX_FAST_WIDTH and dtype in (
        torch.float32, torch.bfloat16)
    direct = 'torch' if fast_direct else 'fft'
    # torch's weight gradient runs at ~4-14 GFLOP/s for every kernel above
    # 3x3. Measured against the FFT (2-core AVX-512 CPU, torch 2.14, min of
    # 9): from 7x7 up the FFT wins or ties on every map size tried (7..64);
    # at 5x5 it loses on small maps (0.6-0.9x at 7x7..16x16) and wins from
    # about 20x20 (3-5x at 28..32).
    small_map = h * w < _FFT_MIN_WEIGHT_GRAD_AREA_5X5
    weight = 'fft' if not fast_direct or max(kh, kw) >= 7 or (
        max(kh, kw) >= 5 and not small_map) else 'torch'
    return dict(forward=direct, grad_input=direct, grad_weight=weight)


class _Spectra:
    """FFT geometry and the kernel's spectrum for one convolution."""

    def __init__(self, shape: Sequence[int], weight: torch.Tensor):
        n, c, h, w = shape
        kh, kw = weight.shape[-2:]
        self.shape = (n, c, h, w)
        self.kernel_size = (kh, kw)
        self.reach_h, self.len_h = _geometry(h, kh)
        self.reach_w, self.len_w = _geometry(w, kw)
        spec_bytes = n * self.len_h * (self.len_w // 2 + 1) * 8
        self.chunk = max(1, min(c, _CHUNK_BYTES // max(spec_bytes, 1)))

    def kernel_spectrum(self, weight: torch.Tensor) -> torch.Tensor:
        """``rfft2`` of the cropped kernel with its centre moved to (0, 0)."""
        kh, kw = self.kernel_size
        rh, rw = self.reach_h, self.reach_w
        cropped = weight[:, 0, kh // 2 - rh:kh // 2 + rh + 1,
                         kw // 2 - rw:kw // 2 + rw + 1]
        placed = weight.new_zeros(weight.shape[0], self.len_h, self.len_w)
        placed[:, :2 * rh + 1, :2 * rw + 1] = cropped
        placed = torch.roll(placed, (-rh, -rw), (-2, -1))
        return torch.fft.rfft2(placed)

    def rfft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft2(x, s=(self.len_h, self.len_w))

    def irfft_crop(self, spec: torch.Tensor) -> torch.Tensor:
        h, w = self.shape[-2:]
        return torch.fft.irfft2(spec, s=(self.len_h, self.len_w))[..., :h, :w]

    def chunks(self) -> Iterator[slice]:
        c = self.shape[1]
        for start in range(0, c, self.chunk):
            yield slice(start, min(start + self.chunk, c))


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    # torch.fft has no CPU bf16/fp16 kernels: transform half types in fp32.
    return dtype if dtype in (torch.float32, torch.float64) else \
        torch.float32


def _fft_filter(t: torch.Tensor, weight: torch.Tensor,
                correlate: bool) -> torch.Tensor:
    """``t`` cross-correlated (the forward) or convolved (the input
    gradient) with ``weight``, through FFTs."""
    dtype = _compute_dtype(t.dtype)
    t = t.to(dtype).contiguous()
    weight = weight.to(dtype)
    geo = _Spectra(t.shape, weight)
    kernel = geo.kernel_spectrum(weight)
    if correlate:
        kernel = kernel.conj()
    out = torch.empty_like(t)
    for sl in geo.chunks():
        spec = geo.rfft(t[:, sl])
        spec.mul_(kernel[sl])
        out[:, sl] = geo.irfft_crop(spec)
    return out


def _fft_forward(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return _fft_filter(x, weight, correlate=True)


def _fft_grad_input(grad_out: torch.Tensor,
                    weight: torch.Tensor) -> torch.Tensor:
    return _fft_filter(grad_out, weight, correlate=False)


def _fft_grad_weight(x: torch.Tensor, grad_out: torch.Tensor,
                     weight: torch.Tensor) -> torch.Tensor:
    dtype = _compute_dtype(x.dtype)
    x = x.to(dtype).contiguous()
    grad_out = grad_out.to(dtype).contiguous()
    geo = _Spectra(x.shape, weight)
    kh, kw = geo.kernel_size
    rh, rw = geo.reach_h, geo.reach_w
    grad_w = weight.new_zeros(weight.shape, dtype=dtype)
    for sl in geo.chunks():
        # Cross-correlation of x with dy, summed over the batch before the
        # inverse transform.
        spec = geo.rfft(x[:, sl])
        spec.mul_(geo.rfft(grad_out[:, sl]).conj())
        corr = torch.fft.irfft2(spec.sum(0), s=(geo.len_h, geo.len_w))
        # Lag d sits at index d mod L: bring lags -reach..reach to the front.
        corr = torch.roll(corr, (rh, rw), (-2, -1))[:, :2 * rh + 1,
                                                      :2 * rw + 1]
        grad_w[sl, 0, kh // 2 - rh:kh // 2 + rh + 1,
               kw // 2 - rw:kw // 2 + rw + 1] = corr
    return grad_w


def _crop_to_reach(weight: torch.Tensor, shape) -> torch.Tensor:
    """The taps of ``weight`` that meet an ``H x W`` input (a view)."""
    kh, kw = weight.shape[-2:]
    rh = _geometry(shape[-2], kh)[0]
    rw = _geometry(shape[-1], kw)[0]
    return weight[..., kh // 2 - rh:kh // 2 + rh + 1,
                  kw // 2 - rw:kw // 2 + rw + 1]


def _torch_forward(x, weight, bias):
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2),
                    groups=x.shape[1])


def _direct_grad_input(grad_out, weight):
    # The input gradient of a correlation is a convolution with the same
    # kernel: torch's fast forward kernel with the kernel flipped.
    return _torch_forward(grad_out, weight.flip(-2, -1), None)


def _direct_grad_weight(grad_out, x, weight):
    kh, kw = weight.shape[-2:]
    _, grad_w, _ = torch.ops.aten.convolution_backward(
        grad_out, x, weight, None, [1, 1], [kh // 2, kw // 2], [1, 1],
        False, [0, 0], x.shape[1], [False, True, False])
    return grad_w


def _like_input(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` in ``x``'s dtype and memory format (as F.conv2d returns)."""
    out = out.to(x.dtype)
    if x.dim() == 4 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last):
        out = out.contiguous(memory_format=torch.channels_last)
    return out


class _DepthwiseConv2dFunction(torch.autograd.Function):
    """Forward and gradients, each part by its planned implementation.

    The 'torch' parts run on the kernel cropped to the taps that meet the
    input (:func:`_crop_to_reach`): same result, and a kernel larger than
    the map then often fits oneDNN's fast path.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, plan):
        if plan['forward'] == 'fft':
            out = _fft_forward(x, weight)
            if bias is not None:
                out += bias.to(out.dtype).view(1, -1, 1, 1)
            out = _like_input(out, x)
        else:
            out = _torch_forward(x, _crop_to_reach(weight, x.shape), bias)
        ctx.save_for_backward(x, weight)
        ctx.plan = plan
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        need_in, need_w, need_b = ctx.needs_input_grad[:3]
        plan = ctx.plan
        grad_in = grad_w = grad_b = None
        cropped = _crop_to_reach(weight, x.shape)
        if need_in:
            if plan['grad_input'] == 'fft':
                grad_in = _like_input(_fft_grad_input(grad_out, weight), x)
            else:
                grad_in = _direct_grad_input(grad_out, cropped)
        if need_w:
            if plan['grad_weight'] == 'fft':
                grad_w = _fft_grad_weight(x, grad_out, weight)
                grad_w = grad_w.to(weight.dtype)
            else:
                grad_w = torch.zeros_like(weight)
                _crop_to_reach(grad_w, x.shape).copy_(
                    _direct_grad_weight(grad_out, x, cropped))
        if need_b and ctx.has_bias:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_in, grad_w, grad_b, None


def _check_args(x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> None:
    if x.dim() != 4:
        raise ValueError(f'input must be 4-D (N, C, H, W), got shape '
                         f'{tuple(x.shape)}')
    c = x.shape[1]
    if weight.dim() != 4 or weight.shape[0] != c or weight.shape[1] != 1:
        raise ValueError(
            f'weight must have shape (C, 1, KH, KW) with C={c} (input '
            f'channels), got {tuple(weight.shape)}')
    kh, kw = weight.shape[-2:]
    if kh % 2 != 1 or kw % 2 != 1:
        raise ValueError(f'kernel size must be odd, got ({kh}, {kw})')
    if bias is not None and tuple(bias.shape) != (c, ):
        raise ValueError(f'bias must have shape ({c},), got '
                         f'{tuple(bias.shape)}')


def depthwise_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Depth-wise convolution, stride 1, zero 'same' padding.

    Equals ``F.conv2d(x, weight, bias, padding=(KH // 2, KW // 2),
    groups=C)``; each part (forward, input and weight gradients) runs with
    the implementation :func:`plan_depthwise_conv` picks.

    Args:
        x (Tensor): ``(N, C, H, W)`` input (contiguous or channels-last).
        weight (Tensor): ``(C, 1, KH, KW)`` kernel, KH and KW odd.
        bias (Tensor, optional): ``(C,)`` bias.

    Returns:
        Tensor: ``(N, C, H, W)``, in the input's dtype and memory format.
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting() or \
            torch.onnx.is_in_onnx_export():
        # Traced graphs (FLOP counters, ONNX) must see a real convolution.
        return _torch_forward(x, weight, bias)
    _check_args(x, weight, bias)
    plan = plan_depthwise_conv(x.shape, weight.shape[-2:], x.device,
                               x.dtype)
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, bias))
    if plan['forward'] == 'torch' and (
            not needs_grad or all(v == 'torch' for v in plan.values())):
        return _torch_forward(x, weight, bias)
    return _DepthwiseConv2dFunction.apply(x, weight, bias, plan)
