"""RepLKNet Table 1's grid on one device: every implementation of every part.

The paper times a stack of 24 depth-wise layers on a ``(64, 384, R, R)``
input, R in 16/32/64, K from 3 to 31. Here each part (forward, input
gradient, weight gradient) is timed by each implementation (torch's kernel,
torch's kernel after a channels-last conversion, FFT, Triton) so that plan
rules can be derived from the figures (:mod:`.rules`); then forward and
forward+backward through autograd are timed for torch NCHW, torch on
channels-last inputs and lkmm's plan.

A measurement whose predicted time (from the same implementation at the
previous kernel size) exceeds ``slow_ms`` is taken on fewer layers and
scaled to the stack; one predicted above ``skip_ms`` per layer is skipped
and marked. GFLOP/s count a multiply-add as 2 FLOPs of the direct KxK
convolution (as the paper), forward+backward as three convolutions.
"""
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from lkmm.ops import (
    DWCONV_PART_IMPLS,
    DWCONV_PARTS,
    depthwise_conv2d,
    depthwise_conv_impl,
    depthwise_conv_part,
    plan_depthwise_conv,
    triton_available,
)

from .timing import Deadline, median, time_fn

__all__ = [
    'GRID_KERNELS', 'GRID_RESOLUTIONS', 'GridCell', 'measure_part_grid',
    'measure_end_to_end', 'DTYPES', 'make_cells', 'part_impls', 'HEADLINE'
]

#: Table 1's kernels plus PeLK's 51 and 101.
GRID_KERNELS = (3, 5, 7, 9, 13, 17, 21, 27, 29, 31, 51, 101)
GRID_RESOLUTIONS = (16, 32, 64)
DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)
E2E_IMPLS = ('torch', 'torch_channels_last', 'lkmm')


@dataclass
class GridCell:
    """All timings of one (dtype, R, K) cell, in ms per ``layers`` layers.

    Args:
        dtype (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``.
        resolution (int): R.
        kernel (int): K.
        batch (int): N.
        channels (int): C.
        layers (int): Stack depth the times refer to.
        parts (dict): ``part -> impl -> ms`` (None: not measured).
        forward (dict): ``torch`` / ``torch_channels_last`` / ``lkmm`` ->
            ms of the forward stack through the op (no autograd).
        forward_backward (dict): The same for forward + backward.
        plan (dict): lkmm's plan for the cell when ``lkmm`` was timed.
        notes (dict): ``'part/impl'`` -> why a figure is scaled or missing.
    """
    dtype: str
    resolution: int
    kernel: int
    batch: int
    channels: int
    layers: int
    parts: Dict[str, Dict[str, Optional[float]]] = field(
        default_factory=dict)
    forward: Dict[str, Optional[float]] = field(default_factory=dict)
    forward_backward: Dict[str, Optional[float]] = field(
        default_factory=dict)
    plan: Dict[str, str] = field(default_factory=dict)
    notes: Dict[str, str] = field(default_factory=dict)

    @property
    def gflop(self) -> float:
        """Direct-convolution GFLOP of one part over the stack."""
        return (2 * self.batch * self.channels * self.resolution**2 *
                self.kernel**2 * self.layers / 1e9)

    def tflops(self, ms: Optional[float], parts: int = 1) -> Optional[float]:
        return None if not ms else self.gflop * parts / ms

    @property
    def cropped_kernel(self) -> int:
        """The kernel's taps that meet the map (``min(K, 2R - 1)``)."""
        return min(self.kernel, 2 * self.resolution - 1)

    def best(self, part: str, exclude=()) -> Optional[str]:
        """The fastest measured implementation of ``part``."""
        timed = {k: v for k, v in self.parts.get(part, {}).items()
                 if v is not None and k not in exclude}
        return min(timed, key=timed.get) if timed else None

    def to_dict(self) -> dict:
        return asdict(self)


def _inputs(cell: GridCell, device, seed: int = 0):
    # Made on the device: host-side generation and copies of the headline
    # cells' ~100 MB would cost seconds of a short lease.
    device = torch.device(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    dtype = DTYPES[cell.dtype]
    shape = (cell.batch, cell.channels, cell.resolution, cell.resolution)

    def randn(*size):
        return torch.randn(size, generator=gen, device=device)

    x = randn(*shape).to(dtype)
    grad = randn(*shape).to(dtype)
    # Scaled to keep activations O(1) through the stack.
    weights = [(randn(cell.channels, 1, cell.kernel, cell.kernel) /
                cell.kernel).to(dtype) for _ in range(cell.layers)]
    return x, weights, grad


def _part_runner(part: str, impl: str, x, weights, grad) -> Callable:
    def run():
        with torch.no_grad():
            if part == 'forward':
                out = x
                for w in weights:
                    out = depthwise_conv_part('forward', impl, out, w)
                return out
            if part == 'grad_input':
                g = grad
                for w in weights:
                    g = depthwise_conv_part('grad_input', impl, x, w, g)
                return g
            return [depthwise_conv_part('grad_weight', impl, x, w, grad)
                    for w in weights]

    return run


class _Predictor:
    """ms per layer per K^2 of the last measured kernel of each series."""

    def __init__(self):
        self.rate: Dict[tuple, float] = {}

    def per_layer_ms(self, key: tuple, kernel: int) -> Optional[float]:
        rate = self.rate.get(key)
        return None if rate is None else rate * kernel**2

    def update(self, key: tuple, kernel: int, ms_per_layer: float) -> None:
        self.rate[key] = ms_per_layer / kernel**2


def _layers_to_time(predicted: Optional[float], layers: int,
                    slow_ms: float) -> int:
    if predicted is None or predicted * layers <= slow_ms:
        return layers
    return max(1, min(layers, int(slow_ms // max(predicted, 1e-9))))


def _measure(cell: GridCell, key: str, run_for: Callable[[int], Callable],
             predictor: _Predictor, series: tuple, device, slow_ms: float,
             skip_ms: float, deadline: Deadline) -> Optional[float]:
    """Time ``run_for(n_layers)`` and scale to the cell's stack."""
    if deadline.passed():
        cell.notes[key] = 'not measured (time budget)'
        return None
    predicted = predictor.per_layer_ms(series, cell.kernel)
    if predicted is not None and predicted > skip_ms:
        cell.notes[key] = (f'skipped: predicted {predicted / 1e3:.1f} s '
                           f'per layer')
        return None
    n = _layers_to_time(predicted, cell.layers, slow_ms)
    try:
        times = time_fn(run_for(n), device, slow_ms=slow_ms)
    except Exception as err:  # a kernel that fails is reported, not fatal
        cell.notes[key] = f'failed: {type(err).__name__}: {err}'[:300]
        return None
    ms = median(times) * cell.layers / n
    predictor.update(series, cell.kernel, ms / cell.layers)
    if n < cell.layers:
        cell.notes[key] = f'timed {n} of {cell.layers} layers, scaled'
    return ms


def part_impls(device: torch.device, dtype: torch.dtype) -> List[str]:
    """The implementations that can run each part here."""
    impls = ['torch', 'channels_last', 'fft']
    if triton_available(device, dtype):
        impls.append('triton')
    return [i for i in DWCONV_PART_IMPLS if i in impls]


def measure_part_grid(cells: Sequence[GridCell], device: torch.device,
                      deadline: Deadline, slow_ms: float = 1500.,
                      skip_ms: float = 4000., log=print,
                      after_cell: Optional[Callable[[], None]] = None
                      ) -> None:
    """Fill ``cell.parts`` for every cell, in order (a series' kernels
    ascending after its first, so that predictions work), calling
    ``after_cell`` after each (the report is saved there)."""
    predictor = _Predictor()
    for index, cell in enumerate(cells):
        dtype = DTYPES[cell.dtype]
        impls = part_impls(device, dtype)
        x, weights, grad = _inputs(cell, device)
        for part in DWCONV_PARTS:
            cell.parts[part] = {}
            for impl in impls:
                series = (cell.dtype, cell.resolution, part, impl)

                def run_for(n, part=part, impl=impl):
                    return _part_runner(part, impl, x, weights[:n], grad)

                cell.parts[part][impl] = _measure(
                    cell, f'{part}/{impl}', run_for, predictor, series,
                    device, slow_ms, skip_ms, deadline)

        if log is not None:
            best = {p: cell.best(p) for p in DWCONV_PARTS}
            log(f'[parts {index + 1}/{len(cells)}] {cell.dtype} '
                f'R={cell.resolution} K={cell.kernel}: ' + ', '.join(
                    f'{p} {cell.parts[p].get("torch") or 0:.2f} ms torch, '
                    f'best {b} {cell.parts[p].get(b) or 0:.2f}'
                    for p, b in best.items() if b))
        if after_cell is not None:
            after_cell()


def _stack_runner(x, weights, grad, impl: str, backward: bool):
    forced = 'auto' if impl == 'lkmm' else 'torch'

    def run():
        with depthwise_conv_impl(forced):
            if not backward:
                with torch.no_grad():
                    out = x
                    for w in weights:
                        out = depthwise_conv2d(out, w)
                return out
            xr = x.detach().requires_grad_()
            ws = [w.detach().requires_grad_() for w in weights]
            out = xr
            for w in ws:
                out = depthwise_conv2d(out, w)
            return torch.autograd.grad(out, [xr] + ws, grad)

    return run


def measure_end_to_end(cells: Sequence[GridCell], device: torch.device,
                       deadline: Deadline, slow_ms: float = 1500.,
                       skip_ms: float = 4000., log=print,
                       after_cell: Optional[Callable[[], None]] = None
                       ) -> None:
    """Fill ``cell.forward`` / ``cell.forward_backward`` through the op:
    torch NCHW, torch on channels-last inputs, lkmm's plan (the CUDA rules
    in effect); ``after_cell`` is called after each cell."""
    predictor = _Predictor()
    for index, cell in enumerate(cells):
        x, weights, grad = _inputs(cell, device)
        dtype = DTYPES[cell.dtype]
        cell.plan = plan_depthwise_conv(x.shape, (cell.kernel, cell.kernel),
                                        x.device, dtype, 'auto')
        for mode, backward in (('forward', False),
                               ('forward_backward', True)):
            results = getattr(cell, mode)
            for impl in E2E_IMPLS:
                if impl == 'torch_channels_last':
                    xs = x.contiguous(memory_format=torch.channels_last)
                    gs = grad.contiguous(memory_format=torch.channels_last)
                else:
                    xs, gs = x, grad
                series = ('e2e', cell.dtype, cell.resolution, mode, impl)

                def run_for(n, xs=xs, gs=gs, impl=impl, backward=backward):
                    return _stack_runner(xs, weights[:n], gs, impl, backward)

                results[impl] = _measure(cell, f'{mode}/{impl}', run_for,
                                         predictor, series, device, slow_ms,
                                         skip_ms, deadline)

        if log is not None:
            fb = cell.forward_backward
            log(f'[end-to-end {index + 1}/{len(cells)}] {cell.dtype} '
                f'R={cell.resolution} K={cell.kernel}: fwd+bwd torch '
                f'{fb.get("torch") or 0:.2f} ms, channels-last '
                f'{fb.get("torch_channels_last") or 0:.2f} ms, lkmm '
                f'{fb.get("lkmm") or 0:.2f} ms (plan {cell.plan})')
        if after_cell is not None:
            after_cell()


#: The cell the targets are stated for (RepLKNet Table 1's R=32, K=31).
HEADLINE = (32, 31)


def make_cells(dtypes: Sequence[str], resolutions: Sequence[int],
               kernels: Sequence[int], batch: int, channels: int,
               layers: int) -> Tuple[List[GridCell], List[GridCell]]:
    """``(headline, rest)``: the :data:`HEADLINE` cell of each dtype
    (measured first: the targets need them), then the other cells in
    measuring order: R=32 first, then ascending; kernels ascending; the
    dtypes interleaved (a budget that runs out cuts every dtype alike)."""
    order = sorted(resolutions, key=lambda r: (r != 32, r))
    cells = [GridCell(d, r, k, batch, channels, layers) for r in order
             for k in sorted(kernels) for d in dtypes]
    headline = [c for c in cells if (c.resolution, c.kernel) == HEADLINE]
    return headline, [c for c in cells if c not in headline]
