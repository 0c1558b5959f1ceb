"""FFT parts of the stride-1 'same' depth-wise convolution.

* forward: ``y = irfft2(rfft2(x) * conj(rfft2(w)))`` (cross-correlation);
* input gradient: ``dx = irfft2(rfft2(dy) * rfft2(w))``;
* weight gradient: ``dw = irfft2(sum_n rfft2(x) * conj(rfft2(dy)))`` -- the
  batch is summed in the frequency domain, so only C inverse transforms.

The transforms are zero-padded to ``L >= H + K // 2`` per dimension, which
is enough for the circular convolution to equal the linear one on the
``H x W`` output (no wrap-around reaches a kept position), and taps farther
than the map extends (``K > 2H - 1``, e.g. RepLKNet's 13x13 kernels on 7x7
maps) are cropped before transforming, since they never meet an input.
Channels are processed in chunks sized to stay in cache. Runs wherever
``torch.fft`` runs (CPU; cuFFT on CUDA).
"""
from typing import Iterator, Optional, Sequence, Tuple

import torch

__all__ = [
    'fft_size', 'kernel_reach', 'fft_forward', 'fft_grad_input',
    'fft_grad_weight', 'fft_supports', 'chunk_bytes_for'
]

# Bytes of complex spectra per channel chunk. CPU: small enough to stay in
# the L2/L3 caches between the forward and the inverse transform. CUDA:
# cuFFT gains nothing from cache-sized pieces and loses a few launches per
# chunk, so a layer's spectra go in one or a few batched transforms (256 MiB
# bounds the extra memory of one chunk).
CHUNK_BYTES = 2 << 20
CUDA_CHUNK_BYTES = 256 << 20


def chunk_bytes_for(device: torch.device) -> int:
    """The default spectra bytes per channel chunk on ``device``."""
    return CUDA_CHUNK_BYTES if torch.device(device).type == 'cuda' else \
        CHUNK_BYTES


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


def kernel_reach(size: int, kernel: int) -> int:
    """How far from its centre a ``kernel``-tap kernel meets an input of
    ``size`` along one dimension: taps beyond ``size - 1`` never do."""
    return min(kernel // 2, size - 1)


def _geometry(size: int, kernel: int) -> Tuple[int, int]:
    """``(reach, fft_len)`` for one dimension."""
    reach = kernel_reach(size, kernel)
    return reach, fft_size(size + reach)


def fft_supports(dtype: torch.dtype) -> bool:
    """Whether the FFT parts handle ``dtype`` (half types in fp32)."""
    return dtype in (torch.float32, torch.float64, torch.float16,
                     torch.bfloat16)


class _Spectra:
    """FFT geometry and the kernel's spectrum for one convolution."""

    def __init__(self, shape: Sequence[int], weight: torch.Tensor,
                 chunk_bytes: Optional[int]):
        # Read at call time so tests can shrink it to force many chunks.
        if chunk_bytes is None:
            chunk_bytes = chunk_bytes_for(weight.device)
        n, c, h, w = shape
        kh, kw = weight.shape[-2:]
        self.shape = (n, c, h, w)
        self.kernel_size = (kh, kw)
        self.reach_h, self.len_h = _geometry(h, kh)
        self.reach_w, self.len_w = _geometry(w, kw)
        spec_bytes = n * self.len_h * (self.len_w // 2 + 1) * 8
        self.chunk = max(1, min(c, chunk_bytes // max(spec_bytes, 1)))

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


def _fft_filter(t: torch.Tensor, weight: torch.Tensor, correlate: bool,
                chunk_bytes: Optional[int]) -> torch.Tensor:
    """``t`` cross-correlated (the forward) or convolved (the input
    gradient) with ``weight``, through FFTs; in the compute dtype."""
    dtype = _compute_dtype(t.dtype)
    t = t.to(dtype).contiguous()
    weight = weight.to(dtype)
    geo = _Spectra(t.shape, weight, chunk_bytes)
    kernel = geo.kernel_spectrum(weight)
    if correlate:
        kernel = kernel.conj()
    out = torch.empty_like(t)
    for sl in geo.chunks():
        spec = geo.rfft(t[:, sl])
        spec.mul_(kernel[sl])
        out[:, sl] = geo.irfft_crop(spec)
    return out


def fft_forward(x: torch.Tensor, weight: torch.Tensor,
                chunk_bytes: Optional[int] = None) -> torch.Tensor:
    """Cross-correlation of ``x`` (N, C, H, W) with ``weight`` (C, 1, KH,
    KW), 'same' zero padding, no bias; fp32 for half inputs.

    Args:
        x (Tensor): Input.
        weight (Tensor): Kernel, KH and KW odd.
        chunk_bytes (int, optional): Bytes of spectra per channel chunk;
            :func:`chunk_bytes_for` the device when None.
    """
    return _fft_filter(x, weight, True, chunk_bytes)


def fft_grad_input(grad_out: torch.Tensor, weight: torch.Tensor,
                   chunk_bytes: Optional[int] = None) -> torch.Tensor:
    """Input gradient of :func:`fft_forward` (a convolution with
    ``weight``); fp32 for half inputs."""
    return _fft_filter(grad_out, weight, False, chunk_bytes)


def fft_grad_weight(x: torch.Tensor, grad_out: torch.Tensor,
                    weight: torch.Tensor,
                    chunk_bytes: Optional[int] = None) -> torch.Tensor:
    """Weight gradient of :func:`fft_forward`, shaped like ``weight``, in
    the compute dtype (fp32 for half inputs)."""
    dtype = _compute_dtype(x.dtype)
    x = x.to(dtype).contiguous()
    grad_out = grad_out.to(dtype).contiguous()
    geo = _Spectra(x.shape, weight, chunk_bytes)
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
