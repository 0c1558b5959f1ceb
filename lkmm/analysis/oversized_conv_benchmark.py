"""Oversized-convolution speed: the implementations of
:class:`lkmm.layers.OversizedConv2d` against plain ``F.conv2d``.

For each input resolution and each ParCNetV2 stage (map ``R / 4 / 2**i``,
the stage's global channels ``round(r_i * C_i)`` of the chosen arch) one
oversized convolution (ParC-O-H then ParC-O-W with ``2H-1`` / ``2W-1``
kernels) is timed in every implementation -- ``torch`` (``F.conv2d``),
``spatial`` (:func:`lkmm.ops.depthwise_conv2d`) and ``fft`` (1-D real FFT)
-- with the rounds interleaved, so a busy machine slows all alike. The
largest deviation of each implementation from ``torch`` (output and
gradients, relative to the largest magnitude) is reported with the timing,
and the implementation ``'auto'`` picks.
"""
import statistics
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional, Sequence

import torch

from lkmm.ops import oversized_conv1d, plan_oversized_conv

from .timing import time_interleaved

__all__ = [
    'OversizedConvCell', 'time_oversized_conv', 'benchmark_oversized_conv',
    'format_oversized_conv_table', 'MODES'
]

IMPLS = ('torch', 'spatial', 'fft')
MODES = ('forward', 'forward_backward')


@dataclass
class OversizedConvCell:
    """One (resolution, stage) measurement.

    Attributes:
        resolution (int): Input image side.
        stage (int): Stage index.
        map_size (int): Side of the stage's map.
        channels (int): Channels convolved (the stage's global channels).
        mode (str): ``'forward'`` or ``'forward_backward'``.
        ms (dict): Median milliseconds per implementation.
        max_rel_err (dict): Largest deviation from ``torch`` (output and,
            in ``forward_backward``, all gradients) over the largest
            magnitude, per implementation.
        auto (str): What ``'auto'`` runs (H and W conv), e.g. ``'fft/fft'``.
    """
    resolution: int
    stage: int
    map_size: int
    channels: int
    mode: str
    ms: Dict[str, float]
    max_rel_err: Dict[str, float]
    auto: str


def _run(impl, x, kh, kw, mode):
    if mode == 'forward':
        with torch.no_grad():
            return [oversized_conv1d(oversized_conv1d(x, kh, -2, impl), kw,
                                     -1, impl)]
    x, kh, kw = (t.detach().requires_grad_() for t in (x, kh, kw))
    out = oversized_conv1d(oversized_conv1d(x, kh, -2, impl), kw, -1, impl)
    # A fixed pseudo-random upstream gradient (a plain sum would hide
    # errors that cancel).
    out.backward(torch.cos(torch.arange(out.numel(), device=out.device,
                                        dtype=out.dtype)).view_as(out))
    return [out.detach(), x.grad, kh.grad, kw.grad]


def time_oversized_conv(batch: int, channels: int, size: int,
                        mode: str = 'forward_backward', reps: int = 5,
                        device: str = 'cpu', seed: int = 0):
    """Time one ``size x size`` oversized conv in every implementation.

    Returns:
        tuple[dict, dict]: Median ms and max relative error vs torch, per
        implementation.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if reps < 1:
        raise ValueError(f'reps must be >= 1, got {reps}')
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=gen).to(device)
    kh = torch.randn(channels, 2 * size - 1, generator=gen).to(device)
    kw = torch.randn(channels, 2 * size - 1, generator=gen).to(device)
    reference = _run('torch', x, kh, kw, mode)  # also a warm-up
    errors = {}
    for impl in IMPLS:
        res = _run(impl, x, kh, kw, mode)
        errors[impl] = max(
            ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
            for a, b in zip(res, reference))
    times = time_interleaved(
        {impl: partial(_run, impl, x, kh, kw, mode) for impl in IMPLS},
        repeats=reps, device=device)
    return {k: statistics.median(v) for k, v in times.items()}, errors


def benchmark_oversized_conv(arch: str = '26m',
                             resolutions: Sequence[int] = (224, 512, 1024),
                             batch: int = 2,
                             mode: str = 'forward_backward',
                             reps: int = 5,
                             device: str = 'cpu',
                             max_elements: Optional[float] = None
                             ) -> List[OversizedConvCell]:
    """Every (resolution, stage) cell for the global channels of ``arch``.

    Args:
        arch (str): A :class:`lkmm.models.ParCNetV2` arch name.
        resolutions (Sequence[int]): Input sides.
        batch (int): Batch size.
        mode (str): ``'forward'`` or ``'forward_backward'``.
        reps (int): Timed rounds per cell (median reported).
        device (str): ``'cpu'`` or ``'cuda'``.
        max_elements (float, optional): Skip cells whose input has more
            elements (keeps quick runs quick).
    """
    from lkmm.models import ParCNetV2
    settings = ParCNetV2.parse_arch(arch)
    cells = []
    for res in resolutions:
        for i, (c, r) in enumerate(zip(settings['channels'],
                                       settings['global_ratios'])):
            size = res // (4 * 2**i)
            channels = int(round(r * c))
            if size < 1 or channels < 1 or (
                    max_elements and batch * channels * size * size >
                    max_elements):
                continue
            ms, err = time_oversized_conv(batch, channels, size, mode, reps,
                                          device)
            plan = plan_oversized_conv(
                (size, size), torch.device(device), 'auto',
                needs_grad=mode == 'forward_backward')
            cells.append(OversizedConvCell(res, i, size, channels, mode, ms,
                                           err, '/'.join(plan)))
    return cells


def format_oversized_conv_table(cells: Sequence[OversizedConvCell]) -> str:
    """A plain-text table: one row per cell, ms and error per impl."""
    head = (f'{"input":>5} {"map":>4} {"C":>4} ' + ' '.join(
        f'{i + " ms":>11}' for i in IMPLS) + '  fastest  auto       ' +
        ' '.join(f'{"err " + i:>12}' for i in IMPLS[1:]))
    lines = [head]
    for c in cells:
        fastest = min(c.ms, key=c.ms.get)
        lines.append(
            f'{c.resolution:>5} {c.map_size:>4} {c.channels:>4} ' +
            ' '.join(f'{c.ms[i]:>11.2f}' for i in IMPLS) +
            f'  {fastest:<7}  {c.auto:<10} ' +
            ' '.join(f'{c.max_rel_err[i]:>12.1e}' for i in IMPLS[1:]))
    return '\n'.join(lines)
