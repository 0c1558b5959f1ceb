"""Timing a callable: warm-up calls, timed calls, GPU work included.

Every benchmark of lkmm measures with these helpers, so a millisecond means
the same thing everywhere: the wall time of one call, with the device's
queue drained before the clock starts and before it stops (CUDA kernels run
asynchronously), or, where asked, the GPU time between two CUDA events.

Needs torch alone: :mod:`lkmm.analysis.gpu_benchmark` imports it on machines
without OpenMMLab packages.
"""
import time
from typing import Callable, Dict, List, Mapping, Union

import torch

__all__ = [
    'synchronize', 'time_call', 'time_callable', 'time_interleaved'
]

DeviceLike = Union[None, str, torch.device]


def _is_cuda(device: DeviceLike) -> bool:
    return device is not None and torch.device(device).type == 'cuda'


def synchronize(device: DeviceLike = None) -> None:
    """Wait until ``device`` has run all work queued on it.

    Args:
        device (str | torch.device, optional): The device; anything but a
            CUDA device (or None) has no queue, and nothing is done.
    """
    if _is_cuda(device):
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object],
              device: DeviceLike = None,
              cuda_events: bool = False) -> float:
    """Milliseconds of one call of ``fn``, its device work included.

    Args:
        fn (callable): The work, called without arguments.
        device (str | torch.device, optional): Where ``fn`` runs. On CUDA
            the device is synchronized before the clock starts and before
            it stops, so queued kernels count; None or CPU: no sync.
        cuda_events (bool): On CUDA, time with a pair of CUDA events (GPU
            time between them, no sync before the call) instead of the wall
            clock. Ignored off CUDA. Defaults to False.

    Returns:
        float: The call's time in ms.
    """
    if cuda_events and _is_cuda(device):
        start, stop = (torch.cuda.Event(enable_timing=True)
                       for _ in range(2))
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        return start.elapsed_time(stop)
    synchronize(device)
    begin = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - begin) * 1e3


def _check_counts(warmup: int, repeats: int) -> None:
    if warmup < 0 or repeats < 0:
        raise ValueError(f'warmup and repeats must be >= 0, got {warmup} '
                         f'and {repeats}')


def time_callable(fn: Callable[[], object],
                  *,
                  repeats: int,
                  warmup: int = 0,
                  device: DeviceLike = None) -> List[float]:
    """Time ``repeats`` calls of ``fn`` after ``warmup`` untimed ones.

    Warm-up calls run exactly like timed ones (same syncs), their times
    dropped: caches, allocators and autotuners settle before measuring.

    Args:
        fn (callable): The work, called without arguments.
        repeats (int): Timed calls, >= 0.
        warmup (int): Untimed calls first, >= 0. Defaults to 0.
        device (str | torch.device, optional): Where ``fn`` runs (see
            :func:`time_call`).

    Returns:
        list[float]: The ms of each timed call, in call order.

    Raises:
        ValueError: a negative count.
    """
    _check_counts(warmup, repeats)
    for _ in range(warmup):
        time_call(fn, device)
    return [time_call(fn, device) for _ in range(repeats)]


def time_interleaved(fns: Mapping[str, Callable[[], object]],
                     *,
                     repeats: int,
                     warmup: int = 0,
                     device: DeviceLike = None,
                     alternate: bool = False) -> Dict[str, List[float]]:
    """Time several callables in rounds, one call of each per round.

    Interleaving makes slow drift of the machine (thermal throttling, other
    jobs on a shared CPU) hit every callable alike. ``warmup`` untimed
    rounds come first, then ``repeats`` timed ones.

    Args:
        fns (Mapping[str, callable]): Name -> work, called in this order.
        repeats (int): Timed rounds, >= 0.
        warmup (int): Untimed rounds first, >= 0. Defaults to 0.
        device (str | torch.device, optional): Where the work runs (see
            :func:`time_call`).
        alternate (bool): Reverse the order in every second round of each
            phase (A B, B A, A B, ...), so no callable always runs right
            after the same other one. Defaults to False.

    Returns:
        dict[str, list[float]]: Per name (in ``fns`` order), the ms of each
        timed call.

    Raises:
        ValueError: a negative count.
    """
    _check_counts(warmup, repeats)
    names = list(fns)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for count, kept in ((warmup, False), (repeats, True)):
        for i in range(count):
            order = names[::-1] if alternate and i % 2 else names
            for name in order:
                ms = time_call(fns[name], device)
                if kept:
                    times[name].append(ms)
    return times

