"""Plan rules derived from a measured part grid.

For each dtype and part, each measured (R, K) cell names its winner: the
fastest implementation, unless it beats torch's kernel by less than
``margin`` (then torch: a rule must pay for itself). Kernels are taken as
the plan sees them (cropped to ``min(K, 2R - 1)``). Runs of neighbouring
kernel sizes with the same winner become one :class:`~lkmm.ops.PlanRule`,
whose ranges reach halfway to the neighbouring measured sizes; each rule's
``source`` quotes the figures behind it.
"""
from typing import Dict, List, Sequence, Tuple

from lkmm.ops import DWCONV_PARTS, PlanRule

from .grid import DTYPES, GridCell

__all__ = ['propose_rules', 'winners']

_DTYPE_NAMES = dict(fp32='float32', bf16='bfloat16', fp16='float16')
_MAX_KERNEL = 999
_MAX_MAP = 4096


def winners(cells: Sequence[GridCell], dtype: str, part: str,
            margin: float = 0.9) -> Dict[Tuple[int, int], Tuple[str, float,
                                                                 float]]:
    """``(R, cropped K) -> (impl, its ms, torch ms)`` for measured cells."""
    out = {}
    for cell in cells:
        if cell.dtype != dtype:
            continue
        times = cell.parts.get(part, {})
        torch_ms = times.get('torch')
        best = cell.best(part, exclude=('torch', ))
        key = (cell.resolution, cell.cropped_kernel)
        if key in out or torch_ms is None and best is None:
            continue
        if best is not None and (torch_ms is None or
                                 times[best] < margin * torch_ms):
            out[key] = (best, times[best], torch_ms)
        else:
            out[key] = ('torch', torch_ms, torch_ms)
    return out


def _bounds(values: List[int], index: int, floor: int,
            ceiling: int) -> Tuple[int, int]:
    lo = floor if index == 0 else (values[index - 1] + values[index]) // 2 + 1
    hi = ceiling if index == len(values) - 1 else \
        (values[index] + values[index + 1]) // 2
    return lo, hi


def propose_rules(cells: Sequence[GridCell], label: str,
                  margin: float = 0.9) -> List[PlanRule]:
    """CUDA plan rules for NCHW inputs from the grid's part timings.

    Args:
        cells (Sequence[GridCell]): Measured cells.
        label (str): Where the figures come from (device, date, report),
            quoted in each rule's ``source``.
        margin (float): A non-torch winner must take at most this fraction
            of torch's time. Defaults to 0.9.
    """
    rules = []
    for dtype in DTYPES:
        for part in DWCONV_PARTS:
            wins = winners(cells, dtype, part, margin)
            resolutions = sorted({r for r, _ in wins})
            for r_index, res in enumerate(resolutions):
                map_range = _bounds(resolutions, r_index, 1, _MAX_MAP)
                kernels = sorted(k for r, k in wins if r == res)
                start = 0
                while start < len(kernels):
                    impl = wins[(res, kernels[start])][0]
                    end = start
                    while end + 1 < len(kernels) and \
                            wins[(res, kernels[end + 1])][0] == impl:
                        end += 1
                    if impl != 'torch':
                        lo = _bounds(kernels, start, 1, _MAX_KERNEL)[0]
                        hi = _bounds(kernels, end, 1, _MAX_KERNEL)[1]
                        figures = '; '.join(
                            f'K={k}: {wins[(res, k)][1]:.2f} vs torch '
                            f'{wins[(res, k)][2] or float("nan"):.2f} ms'
                            for k in kernels[start:end + 1])
                        rules.append(PlanRule(
                            part=part, impl=impl,
                            dtypes=(_DTYPE_NAMES[dtype], ),
                            kernel=(lo, hi), map_size=map_range,
                            memory_format='nchw',
                            source=f'{label}: {dtype} {part} R={res}: '
                            f'{figures}'))
                    start = end + 1
    return rules
