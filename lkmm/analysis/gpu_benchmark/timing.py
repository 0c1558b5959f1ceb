"""Timing helpers shared by the GPU benchmark's sections."""
import statistics
import time
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional

import torch

from lkmm.analysis.timing import synchronize as sync
from lkmm.analysis.timing import time_call

__all__ = ['Deadline', 'time_fn', 'sync', 'fp32_gemm_tflops', 'quick_timing']

# Inside quick_timing (a smoke run of the script) every measurement is one
# timed call, whatever time_fn is asked for.
_POLICY = dict(quick=False)


class Deadline:
    """A wall-clock budget: sections ask it before each measurement.

    Args:
        seconds (float): Budget from now.
    """

    def __init__(self, seconds: float):
        self.start = time.monotonic()
        self.end = self.start + seconds

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.end - time.monotonic()

    def passed(self, reserve: float = 0.) -> bool:
        """Whether less than ``reserve`` seconds are left."""
        return self.left() < reserve

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def time_fn(fn: Callable[[], object], device: torch.device,
            min_reps: int = 3, min_seconds: float = 0.15,
            max_reps: int = 20, slow_ms: float = 1500.) -> List[float]:
    """Milliseconds of each timed call of ``fn`` after one warm-up call.

    At least ``min_reps`` calls and ``min_seconds`` in all (at most
    ``max_reps``); a call slower than ``slow_ms`` is timed once only, and
    every call inside :func:`quick_timing` too. Each call is timed by
    :func:`lkmm.analysis.timing.time_call`: with CUDA events on CUDA, with
    the wall clock on the CPU.

    Args:
        fn (callable): The work.
        device (torch.device): Where it runs.
    """
    if _POLICY['quick']:
        min_reps, min_seconds = 1, 0.
    device = torch.device(device)
    sync(device)
    first = time_call(fn, device, cuda_events=True)
    if first > slow_ms:
        # The warm-up already took long (compiles, autotuning): one more.
        return [time_call(fn, device, cuda_events=True)]
    times: List[float] = []
    while len(times) < max_reps and (len(times) < min_reps or
                                     sum(times) < min_seconds * 1e3):
        times.append(time_call(fn, device, cuda_events=True))
    return times


@contextmanager
def quick_timing() -> Iterator[None]:
    """One timed call per measurement inside the block (smoke runs that
    test the benchmark itself, not the device)."""
    previous = _POLICY['quick']
    _POLICY['quick'] = True
    try:
        yield
    finally:
        _POLICY['quick'] = previous


def median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def fp32_gemm_tflops(device: torch.device, size: int = 8192) -> float:
    """fp32 SGEMM throughput (TF32 off) in TFLOP/s: a measured stand-in for
    the GPU's fp32 FMA peak (cuBLAS reaches most of it)."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        a = torch.randn(size, size, device=device)
        b = torch.randn(size, size, device=device)
        ms = min(time_fn(lambda: a @ b, device, min_reps=5))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * size**3 / ms / 1e9
