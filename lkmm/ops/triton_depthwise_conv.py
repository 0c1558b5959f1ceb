"""Triton kernels for the stride-1 'same' depth-wise convolution.

Build-free (Triton compiles at first use; it ships with torch's Linux
wheels) forward, input-gradient and weight-gradient kernels for odd
``KH x KW`` kernels of any size, fp32 / fp16 / bf16 inputs with fp32
accumulation, NCHW or channels-last (any strides) tensors.

Each part is a sum of small matrix products, so it runs on ``tl.dot``
(tensor cores for fp16/bf16; exact fp32 FMAs, ``input_precision='ieee'``,
for fp32):

* forward: for kernel row ``i``, the output tile ``Y[BH, BW]`` gains
  ``X_i[BH, BT] @ T_i[BT, BW]`` where ``X_i`` are the input rows shifted by
  ``i`` and ``T_i[t, w] = k[i, t - w]`` is the Toeplitz matrix of kernel row
  ``i`` (zero outside ``0 <= t - w < KW``). The input columns ``t`` span
  ``BW + KW - 1`` and are walked in chunks of ``BT``.
* input gradient: the forward with the kernel flipped (a correlation's
  adjoint is a convolution), same kernel with ``FLIP``.
* weight gradient: ``dW[i, j] = sum_{n, h, u} x[n, h + i, u] *
  dy[n, h, u - j]``: a product of the gathered input rows ``A[i, u]`` and the
  Toeplitz matrix of an output-gradient row ``B[u, j]``, reduced over all
  image rows ``(n, h)`` (split across programs, partial sums added after).

A kernel taller than wide runs on the transposed view (H and W strides
swapped, kernel transposed): the loop then runs over the short side and the
dot over the long one, so ``K x 1`` and ``K x 5`` stripes waste no taps.

Taps farther than the map extends never meet an input; callers crop them
first (:func:`lkmm.ops.depthwise_conv._crop_to_reach`), the kernels are
correct either way.

On CPU the kernels run under Triton's interpreter (``TRITON_INTERPRET=1``;
slow, tiny shapes only): that is how the test suite checks them on machines
without a GPU. Nothing here is imported by ``lkmm.ops`` until a Triton part
is planned or forced, and ``triton`` itself is optional.
"""
import contextlib
import functools
import importlib.util
import os
from typing import Dict, Iterator, Optional, Tuple

import torch

__all__ = [
    'TRITON_DTYPES', 'triton_available', 'triton_unavailable_reason',
    'triton_forward', 'triton_grad_input', 'triton_grad_weight',
    'forced_tiles', 'FP32_PRECISIONS', 'fp32_precision',
    'triton_fp32_precision'
]

#: Input dtypes the kernels take (fp32 accumulation for all).
TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _interpreting() -> bool:
    return os.environ.get('TRITON_INTERPRET', '0').strip().lower() in (
        '1', 'true', 'on', 'yes')


@functools.lru_cache(maxsize=None)
def _triton_installed() -> bool:
    return importlib.util.find_spec('triton') is not None


def triton_unavailable_reason(device: torch.device,
                              dtype: torch.dtype) -> Optional[str]:
    """Why the Triton kernels cannot run on ``device`` / ``dtype``, or None.

    Args:
        device (torch.device): Device of the tensors.
        dtype (torch.dtype): Dtype of the input.
    """
    if not _triton_installed():
        return 'triton is not installed (it ships with torch\'s Linux wheels)'
    if dtype not in TRITON_DTYPES:
        return (f'dtype {dtype} is not supported (allowed: float32, float16, '
                f'bfloat16)')
    device = torch.device(device)
    if device.type == 'cuda':
        return None
    if device.type == 'cpu':
        if _interpreting():
            return None
        return ('on CPU the Triton kernels run only under Triton\'s '
                'interpreter: set TRITON_INTERPRET=1')
    return f'device type {device.type!r} is not supported (cuda, or cpu ' \
        'under TRITON_INTERPRET=1)'


def triton_available(device: torch.device = torch.device('cuda'),
                     dtype: torch.dtype = torch.float32) -> bool:
    """Whether the Triton kernels can run for ``device`` and ``dtype``."""
    return triton_unavailable_reason(device, dtype) is None


def _check_available(t: torch.Tensor) -> None:
    reason = triton_unavailable_reason(t.device, t.dtype)
    if reason is not None:
        raise RuntimeError(f'lkmm Triton depth-wise conv: {reason}')


# --------------------------------------------------------------------------
# Kernels. Defined inside a factory so that ``triton`` is imported only when
# a Triton part runs, and so that the interpreter (which triton.jit selects
# at decoration time from TRITON_INTERPRET) gets kernels of its own.
# --------------------------------------------------------------------------


# Tile configs per kernel: block names, then (blocks..., warps, stages).
# Few of them: each is compiled per dtype and timed per shape. The
# interpreter accepts one config; small tiles keep it quick.
# The forward's 16-wide tiles issue the fewest wasted columns at large K
# (a 16 + K - 1 band in 16-column chunks: 65% useful at K=31, 48% for the
# 32-wide ones; tools/analysis/triton_resources.py).
_TILES = dict(
    forward=(('BLOCK_H', 'BLOCK_W', 'BLOCK_T'),
             [(16, 16, 16, 2, 3), (32, 16, 16, 4, 4), (32, 32, 32, 4, 3),
              (32, 64, 32, 4, 3), (64, 64, 32, 8, 3)],
             (16, 16, 16, 4, 3)),
    weight=(('BLOCK_I', 'BLOCK_J', 'BLOCK_U'),
            [(16, 16, 32, 4, 3), (16, 32, 32, 4, 3), (32, 32, 32, 4, 3),
             (32, 32, 64, 4, 3), (64, 64, 32, 8, 3)],
            (16, 16, 32, 4, 3)),
)
# Which sizes bound each kernel's first two blocks: tiles far larger than
# the map (forward) or the kernel (weight gradient) only compute padding.
_BOUNDS = dict(forward=('H', 'W'), weight=('KH', 'KW'))


# Tile rows forced per kernel (:func:`forced_tiles`): tests run each row of
# the GPU table numerically under the interpreter, which takes one config.
_FORCED: Dict[str, tuple] = {}


def _tile_rows(kernel: str, interpret: bool,
               forced: Optional[tuple] = None) -> list:
    """The tile rows ``kernel`` is tuned over: the forced one, else the
    interpreter's single row, else the GPU table."""
    _, table, single = _TILES[kernel]
    return [forced] if forced else [single] if interpret else table


def _configs(triton, kernel: str, interpret: bool,
             forced: Optional[tuple] = None):
    names = _TILES[kernel][0]
    return [triton.Config(dict(zip(names, row[:3])), num_warps=row[3],
                          num_stages=row[4])
            for row in _tile_rows(kernel, interpret, forced)]


@contextlib.contextmanager
def forced_tiles(kernel: str, row: tuple) -> Iterator[None]:
    """Run ``kernel`` (``'forward'`` or ``'weight'``) with the one tile
    ``row`` (blocks..., warps, stages) inside the block, whatever the
    autotuner would pick (tests of each row of the GPU table)."""
    if kernel not in _TILES:
        raise ValueError(f'kernel must be one of {sorted(_TILES)}, got '
                         f'{kernel!r}')
    previous = _FORCED.get(kernel)
    _FORCED[kernel] = tuple(row)
    try:
        yield
    finally:
        _FORCED.pop(kernel)
        if previous is not None:
            _FORCED[kernel] = previous


def _pruner(kernel: str):
    names = _TILES[kernel][0][:2]
    bounds = _BOUNDS[kernel]

    def prune(configs, named_args, **kwargs):
        # triton's Autotuner names only the positional arguments in
        # named_args; keyword arguments (KH, KW here) come as kwargs.
        args = {**named_args, **kwargs}
        kept = [c for c in configs if all(
            c.kwargs[n] <= max(16, _next_pow2(args[b]))
            for n, b in zip(names, bounds))]
        return kept or configs[:1]

    return prune


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@functools.lru_cache(maxsize=None)
def _kernels(interpret: bool, forced_forward: Optional[tuple] = None,
             forced_weight: Optional[tuple] = None) -> Dict[str, object]:
    import triton
    import triton.testing

    from . import triton_kernels as kernels

    fwd = triton.jit(kernels.depthwise_forward_kernel)
    wgt = triton.jit(kernels.depthwise_weight_kernel)

    def quick_bench(kernel_call, quantiles):
        # Short timing per config (the default 25 + 100 ms per config and
        # shape would dominate a benchmark of many shapes).
        return triton.testing.do_bench(kernel_call, warmup=5, rep=20,
                                       quantiles=quantiles)

    # KH and KW are runtime arguments (one compile per config and dtype,
    # not per kernel size), but part of the tuning key, as are the batch
    # and channels (a small check shape must not pick the config that a
    # large cell then reuses).
    fwd = triton.autotune(
        configs=_configs(triton, 'forward', interpret, forced_forward),
        key=['N', 'C', 'H', 'W', 'KH', 'KW', 'FLIP'],
        prune_configs_by=None if interpret else dict(
            early_config_prune=_pruner('forward')),
        do_bench=None if interpret else quick_bench)(fwd)
    wgt = triton.autotune(
        configs=_configs(triton, 'weight', interpret, forced_weight),
        key=['C', 'ROWS', 'H', 'W', 'KH', 'KW'],
        # The partial-sum buffer is written, not accumulated: no reset.
        prune_configs_by=None if interpret else dict(
            early_config_prune=_pruner('weight')),
        do_bench=None if interpret else quick_bench)(wgt)
    return dict(forward=fwd, weight=wgt)


#: Precisions of the fp32 dots: ``'ieee'`` (exact fp32 FMAs, the default)
#: or ``'tf32x3'`` (three TF32 tensor-core products per dot, close to fp32
#: accuracy; opt in with ``LKMM_TRITON_FP32_PRECISION=tf32x3``). Half
#: types always run on tensor cores.
FP32_PRECISIONS = ('ieee', 'tf32x3')


def fp32_precision() -> str:
    """The fp32 dot precision in effect (``LKMM_TRITON_FP32_PRECISION``,
    default ``'ieee'``).

    Raises:
        ValueError: For a value outside :data:`FP32_PRECISIONS`.
    """
    value = os.environ.get('LKMM_TRITON_FP32_PRECISION', '').strip().lower()
    if not value:
        return 'ieee'
    if value not in FP32_PRECISIONS:
        raise ValueError(f'LKMM_TRITON_FP32_PRECISION must be one of '
                         f'{", ".join(FP32_PRECISIONS)}; got {value!r}')
    return value


@contextlib.contextmanager
def triton_fp32_precision(value: str) -> Iterator[None]:
    """Run fp32 Triton dots at ``value`` (see :data:`FP32_PRECISIONS`)
    inside the block (sets ``LKMM_TRITON_FP32_PRECISION``)."""
    if value not in FP32_PRECISIONS:
        raise ValueError(f'precision must be one of '
                         f'{", ".join(FP32_PRECISIONS)}; got {value!r}')
    previous = os.environ.get('LKMM_TRITON_FP32_PRECISION')
    os.environ['LKMM_TRITON_FP32_PRECISION'] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop('LKMM_TRITON_FP32_PRECISION')
        else:
            os.environ['LKMM_TRITON_FP32_PRECISION'] = previous


def _precision(dtype: torch.dtype) -> str:
    return fp32_precision() if dtype == torch.float32 else 'ieee'


def _upcast(dtype: torch.dtype) -> bool:
    # Triton's interpreter computes bf16 x bf16 dots wrongly (numpy has no
    # bf16); there the operands go to fp32, which is exact for products of
    # bf16 values (compiled kernels keep bf16 tensor-core dots).
    return dtype == torch.bfloat16 and _interpreting()


def _get(name: str):
    return _kernels(_interpreting(), _FORCED.get('forward'),
                    _FORCED.get('weight'))[name]


def _host_steps(kernel: str, loops: int, span: int) -> dict:
    """``STEPS`` / ``HOST_STEPS`` of a launch: under the interpreter the
    flat loop's length, ``loops * ceil(span / chunk)`` for the one tile it
    runs (the interpreter cannot range over a bound the kernel computes);
    compiled kernels compute it themselves."""
    if not _interpreting():
        return dict(STEPS=0, HOST_STEPS=False)
    row, = _tile_rows(kernel, True, _FORCED.get(kernel))
    chunk = row[2]
    span = span + (row[1] - 1 if kernel == 'forward' else 0)
    return dict(STEPS=_loop_bound(loops * _cdiv(span, chunk)),
                HOST_STEPS=True)


def _loop_bound(n: int):
    """A scalar argument that bounds a loop in a kernel.

    Compiled kernels take it as a runtime value (one compile for every
    kernel size). Triton 3.6's interpreter would wrap it in a one-element
    array, which ``range`` cannot take under numpy >= 2.4 (later
    interpreters unwrap it); a constexpr reaches ``range`` as an int under
    every interpreter.
    """
    if not _interpreting():
        return n
    import triton.language as tl
    return tl.constexpr(n)


# --------------------------------------------------------------------------
# Launchers
# --------------------------------------------------------------------------


def _oriented(t: torch.Tensor, transpose: bool) -> torch.Tensor:
    return t.transpose(-1, -2) if transpose else t


def _filter(x: torch.Tensor, weight: torch.Tensor,
            bias: Optional[torch.Tensor], flip: bool) -> torch.Tensor:
    _check_available(x)
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    out = torch.empty_like(x)  # keeps x's memory format
    if x.numel() == 0:
        return out
    weight = weight.to(x.dtype)
    # The loop runs over kernel rows and the dot over a row's span: put the
    # kernel's longer side along W (a transposed view: strides swapped).
    transpose = kh > kw
    xv, yv = _oriented(x, transpose), _oriented(out, transpose)
    wv = _oriented(weight, transpose)
    hv, wdv = xv.shape[-2:]
    khv, kwv = wv.shape[-2:]
    bias_arg = bias.to(x.dtype).contiguous() if bias is not None else x
    kernel = _get('forward')

    def grid(meta):
        return (n * c, _cdiv(hv, meta['BLOCK_H']),
                _cdiv(wdv, meta['BLOCK_W']))

    kernel[grid](xv, wv, bias_arg, yv, n, c, hv, wdv, *xv.stride(),
                 *yv.stride(), wv.stride(0), wv.stride(2), wv.stride(3),
                 KH=_loop_bound(khv), KW=_loop_bound(kwv),
                 **_host_steps('forward', khv, kwv),
                 HAS_BIAS=bias is not None, FLIP=flip,
                 UPCAST=_upcast(x.dtype), PRECISION=_precision(x.dtype))
    return out


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def triton_forward(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=(KH//2, KW//2), groups=C)``.

    Args:
        x (Tensor): ``(N, C, H, W)``, any strides (NCHW, channels-last).
        weight (Tensor): ``(C, 1, KH, KW)``, KH and KW odd; cast to
            ``x.dtype``.
        bias (Tensor, optional): ``(C,)``.

    Returns:
        Tensor: In ``x``'s dtype and memory format.
    """
    return _filter(x, weight, bias, flip=False)


def triton_grad_input(grad_out: torch.Tensor,
                      weight: torch.Tensor) -> torch.Tensor:
    """Input gradient of :func:`triton_forward`: ``grad_out`` convolved
    (not correlated) with ``weight``; in ``grad_out``'s dtype and memory
    format."""
    return _filter(grad_out, weight, None, flip=True)


@functools.lru_cache(maxsize=None)
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _device_sms(device: torch.device) -> Optional[int]:
    """Streaming multiprocessors of a CUDA ``device``; None elsewhere."""
    if device.type != 'cuda':
        return None
    return _sm_count(device.index if device.index is not None else
                     torch.cuda.current_device())


def _weight_split(channels: int, tiles: int, rows: int,
                  sms: Optional[int]) -> int:
    """How many programs share one channel's image rows: enough programs
    to fill ``sms`` multiprocessors a few times over, at least 8 rows each
    (1 without multiprocessors: CPU, the interpreter)."""
    if not sms:
        return 1
    want = max(1, (4 * sms) // max(1, channels * tiles))
    return max(1, min(want, rows // 8 or 1))


def triton_grad_weight(x: torch.Tensor, grad_out: torch.Tensor,
                       kernel_size: Tuple[int, int]) -> torch.Tensor:
    """Weight gradient of :func:`triton_forward`.

    Args:
        x (Tensor): ``(N, C, H, W)`` forward input.
        grad_out (Tensor): ``(N, C, H, W)`` output gradient (same dtype).
        kernel_size (tuple[int, int]): ``(KH, KW)``, both odd.

    Returns:
        Tensor: ``(C, 1, KH, KW)`` in float32 (the accumulation dtype).
    """
    _check_available(x)
    n, c, h, w = x.shape
    kh, kw = kernel_size
    if x.numel() == 0:
        return x.new_zeros((c, 1, kh, kw), dtype=torch.float32)
    grad_out = grad_out.to(x.dtype)
    # The dot runs over a row's columns: keep the longer map side along W
    # ... and M (kernel rows) should not be the 1-wide side of a stripe.
    transpose = kh > kw
    xv, gv = _oriented(x, transpose), _oriented(grad_out, transpose)
    hv, wdv = xv.shape[-2:]
    khv, kwv = (kw, kh) if transpose else (kh, kw)
    rows = n * hv
    kernel = _get('weight')
    # Split sizes depend only on the shape, so a shape's autotuned config
    # always sees the same split.
    max_tiles = _cdiv(khv, 16) * _cdiv(kwv, 16)
    split = _weight_split(c, max_tiles, rows, _device_sms(x.device))
    per_prog = _cdiv(rows, split)
    split = _cdiv(rows, per_prog)
    partial = torch.empty((split, c, khv, kwv), device=x.device,
                          dtype=torch.float32)

    def grid(meta):
        tiles = _cdiv(khv, meta['BLOCK_I']) * _cdiv(
            kwv, meta['BLOCK_J'])
        return (c, tiles, split)

    kernel[grid](xv, gv, partial, c, hv, _loop_bound(wdv), rows,
                 _loop_bound(per_prog), *xv.stride(), *gv.stride(),
                 KH=_loop_bound(khv), KW=_loop_bound(kwv),
                 **_host_steps('weight', per_prog, wdv),
                 UPCAST=_upcast(x.dtype), PRECISION=_precision(x.dtype))
    grad_w = partial.sum(0) if split > 1 else partial[0]
    grad_w = _oriented(grad_w, transpose)
    return grad_w.reshape(c, 1, kh, kw)
