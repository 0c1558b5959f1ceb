"""Depth-wise convolution speed: torch vs lkmm in the layout of RepLKNet
Table 1.

The paper times a stack of 24 depth-wise layers on a ``(64, 384, R, R)``
input for kernel sizes 3..31 and resolutions 16/32/64. Here the stack depth,
batch, channels, device and dtype are settable, both implementations run in
the same process with their rounds interleaved (so a busy machine slows both
alike), and forward as well as forward+backward are timed. Achieved GFLOP/s
count a multiply-add as 2 FLOPs of the direct convolution, the same for
both implementations (forward+backward is three convolutions' worth).
"""
import statistics
from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence

import torch

from lkmm.ops import depthwise_conv2d, depthwise_conv_impl, plan_depthwise_conv

from .timing import time_interleaved

__all__ = [
    'PAPER_KERNELS', 'PAPER_RESOLUTIONS', 'DWConvCell', 'time_dwconv_stack',
    'benchmark_dwconv_grid', 'format_dwconv_tables', 'DTYPES', 'MODES'
]

#: Kernel sizes and resolutions of RepLKNet Table 1.
PAPER_KERNELS = (3, 5, 7, 9, 13, 17, 21, 27, 29, 31)
PAPER_RESOLUTIONS = (16, 32, 64)
MODES = ('forward', 'forward_backward')
IMPLS = ('torch', 'lkmm')
DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16,
               fp64=torch.float64)


@dataclass
class DWConvCell:
    """One grid cell: both implementations on one shape and mode.

    Args:
        resolution (int): R of the ``(N, C, R, R)`` input.
        kernel (int): Kernel size K.
        mode (str): ``'forward'`` or ``'forward_backward'``.
        torch_ms (float): Median ms of the stack with ``F.conv2d``.
        lkmm_ms (float): Median ms of the stack with lkmm's op.
        gflop (float): Direct-convolution GFLOP of one run of the stack.
        plan (dict): What lkmm ran for each part.
        max_abs_diff (float): Largest output difference lkmm vs torch.
    """
    resolution: int
    kernel: int
    mode: str
    torch_ms: float
    lkmm_ms: float
    gflop: float
    plan: Dict[str, str]
    max_abs_diff: float

    @property
    def same_as_torch(self) -> bool:
        """Whether lkmm ran torch's own kernel for every timed part."""
        parts = ('forward', ) if self.mode == 'forward' else tuple(self.plan)
        return all(self.plan[p] == 'torch' for p in parts)

    @property
    def speedup(self) -> float:
        """torch time over lkmm time (> 1: lkmm is faster)."""
        return self.torch_ms / self.lkmm_ms

    def gflops(self, impl: str) -> float:
        """Achieved GFLOP/s of ``impl`` ('torch' or 'lkmm')."""
        ms = self.torch_ms if impl == 'torch' else self.lkmm_ms
        return self.gflop / ms * 1e3

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(speedup=self.speedup, torch_gflops=self.gflops('torch'),
                   lkmm_gflops=self.gflops('lkmm'))
        return out


def _stack_fn(impl: str, x, weights, grad_out, mode: str):
    """A closure running the stack once with ``impl``."""
    forced = 'torch' if impl == 'torch' else 'auto'

    def run():
        with depthwise_conv_impl(forced):
            if mode == 'forward':
                with torch.no_grad():
                    out = x
                    for w in weights:
                        out = depthwise_conv2d(out, w)
                return out
            out = x
            for w in weights:
                out = depthwise_conv2d(out, w)
            out.backward(grad_out)
            return out

    return run


def time_dwconv_stack(batch: int = 8,
                      channels: int = 384,
                      resolution: int = 32,
                      kernel: int = 31,
                      layers: int = 1,
                      mode: str = 'forward',
                      device: str = 'cpu',
                      dtype: torch.dtype = torch.float32,
                      reps: int = 3,
                      warmup: int = 1,
                      seed: int = 0) -> DWConvCell:
    """Time a stack of ``layers`` depth-wise KxK convolutions, torch vs lkmm.

    Args:
        batch (int): N. Defaults to 8.
        channels (int): C. Defaults to 384 (as the paper).
        resolution (int): R (square maps). Defaults to 32.
        kernel (int): K, odd. Defaults to 31.
        layers (int): Depth of the stack (paper: 24). Defaults to 1.
        mode (str): ``'forward'`` (no autograd) or ``'forward_backward'``
            (gradients of the input and of every kernel). Defaults to
            ``'forward'``.
        device (str): Device. Defaults to ``'cpu'``.
        dtype (torch.dtype): Input and kernel dtype. Defaults to fp32.
        reps (int): Timed rounds per implementation; the median is kept.
        warmup (int): Untimed rounds per implementation first.
        seed (int): Seed of the random input and kernels.

    Returns:
        DWConvCell: Both timings, the FLOP count, lkmm's plan and the
        largest output difference.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if kernel < 1 or kernel % 2 != 1:
        raise ValueError(f'kernel must be a positive odd int, got {kernel}')
    for name, value in (('batch', batch), ('channels', channels),
                        ('resolution', resolution), ('layers', layers),
                        ('reps', reps)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, resolution, resolution, generator=gen)
    # Kernels scaled to keep activations O(1) through the stack.
    weights = [(torch.randn(channels, 1, kernel, kernel, generator=gen) /
                kernel) for _ in range(layers)]
    x = x.to(device, dtype)
    weights = [w.to(device, dtype) for w in weights]
    grad_out = torch.randn(x.shape, generator=gen).to(device, dtype) \
        if mode == 'forward_backward' else None
    if mode == 'forward_backward':
        x.requires_grad_(True)
        for w in weights:
            w.requires_grad_(True)
    runs = {impl: _stack_fn(impl, x, weights, grad_out, mode)
            for impl in IMPLS}
    outs = {}
    for impl in IMPLS:
        for _ in range(max(warmup, 1)):
            outs[impl] = runs[impl]().detach()
    times = time_interleaved(runs, repeats=reps, device=device)
    diff = (outs['torch'].float() - outs['lkmm'].float()).abs().max().item()
    gflop = 2 * batch * channels * resolution**2 * kernel**2 * layers / 1e9
    if mode == 'forward_backward':
        gflop *= 3
    plan = plan_depthwise_conv(x.shape, (kernel, kernel), device, dtype,
                               impl='auto')
    return DWConvCell(resolution=resolution, kernel=kernel, mode=mode,
                      torch_ms=statistics.median(times['torch']),
                      lkmm_ms=statistics.median(times['lkmm']),
                      gflop=gflop, plan=plan, max_abs_diff=diff)


def benchmark_dwconv_grid(kernels: Sequence[int] = PAPER_KERNELS,
                          resolutions: Sequence[int] = PAPER_RESOLUTIONS,
                          modes: Sequence[str] = MODES,
                          log=print,
                          **kwargs) -> List[DWConvCell]:
    """Run :func:`time_dwconv_stack` over a grid (progress to ``log``).

    Args:
        kernels (Sequence[int]): Kernel sizes. Defaults to Table 1's.
        resolutions (Sequence[int]): Resolutions. Defaults to Table 1's.
        modes (Sequence[str]): Modes to time.
        log (callable, optional): Called with a line per finished cell.
        **kwargs: Passed to :func:`time_dwconv_stack`.

    Returns:
        list[DWConvCell]: One cell per (mode, resolution, kernel).
    """
    cells = []
    total = len(modes) * len(resolutions) * len(kernels)
    for mode in modes:
        for res in resolutions:
            for k in kernels:
                cell = time_dwconv_stack(resolution=res, kernel=k, mode=mode,
                                         **kwargs)
                cells.append(cell)
                if log is not None:
                    log(f'[{len(cells)}/{total}] {mode} R={res} K={k}: '
                        f'torch {cell.torch_ms:.1f} ms, lkmm '
                        f'{cell.lkmm_ms:.1f} ms ({cell.speedup:.2f}x)')
    return cells


def format_dwconv_tables(cells: Sequence[DWConvCell]) -> str:
    """Table 1 layout: per mode and resolution, rows torch / lkmm (ms),
    speed-up and achieved GFLOP/s, one column per kernel size."""
    lines = []
    for mode in MODES:
        sub = [c for c in cells if c.mode == mode]
        if not sub:
            continue
        kernels = sorted({c.kernel for c in sub})
        head = f'{"R":>4} {"":<14}' + ''.join(f'{k:>9}' for k in kernels)
        lines += ['', f'{mode.replace("_", "+")} (ms, median)', head,
                  '-' * len(head)]
        for res in sorted({c.resolution for c in sub}):
            row = {c.kernel: c for c in sub if c.resolution == res}

            def fmt(fn, spec):
                return ''.join(
                    f'{fn(row[k]):>9{spec}}' if k in row else f'{"-":>9}'
                    for k in kernels)

            lines.append(f'{res:>4} {"torch":<14}' +
                         fmt(lambda c: c.torch_ms, '.1f'))
            lines.append(f'{"":>4} {"lkmm":<14}' +
                         fmt(lambda c: c.lkmm_ms, '.1f'))
            lines.append(f'{"":>4} {"speed-up":<14}' +
                         fmt(lambda c: c.speedup, '.2f'))
            lines.append(f'{"":>4} {"torch GFLOP/s":<14}' +
                         fmt(lambda c: c.gflops('torch'), '.0f'))
            lines.append(f'{"":>4} {"lkmm GFLOP/s":<14}' +
                         fmt(lambda c: c.gflops('lkmm'), '.0f'))
            lines.append(f'{"":>4} {"lkmm runs":<14}' +
                         fmt(_plan_code, 's'))
    lines += ['', 'lkmm runs: which kernel computed the forward / input '
              'gradient / weight gradient (T = torch\'s own, F = FFT)']
    own = [c for c in cells if not c.same_as_torch]
    same = [c for c in cells if c.same_as_torch]
    if own:
        worst = min(own, key=lambda c: c.speedup)
        lines.append(f'slowest cell where lkmm runs its own kernel: '
                     f'{worst.mode} R={worst.resolution} K={worst.kernel}, '
                     f'speed-up {worst.speedup:.2f}x')
    if same:
        lo, hi = (f(c.speedup for c in same) for f in (min, max))
        lines.append(f'cells where lkmm runs torch\'s kernel (the same '
                     f'code; the spread is timing noise): {lo:.2f}x to '
                     f'{hi:.2f}x')
    lines.append('largest output difference lkmm vs torch: '
                 f'{max(c.max_abs_diff for c in cells):.2e}')
    return '\n'.join(lines)


def _plan_code(cell: 'DWConvCell') -> str:
    parts = ('forward', ) if cell.mode == 'forward' else \
        ('forward', 'grad_input', 'grad_weight')
    return '/'.join(cell.plan[p][0].upper() for p in parts)
