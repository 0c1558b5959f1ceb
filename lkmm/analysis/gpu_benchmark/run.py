"""One prepared GPU benchmark: checks, Table 1 grid, proposed plan, models.

Order of work (each section gets a share of the time budget, and whatever
does not fit is marked "not measured" rather than dropped silently):

1. correctness of every part implementation on the device;
2. the part grid (each part by each implementation), from which CUDA plan
   rules are proposed (:mod:`.rules`) and put in effect for the rest;
3. forward and forward+backward through the op: torch NCHW, torch
   channels-last, lkmm with the proposed plan;
4. AMP training steps of each family;
5. models: RepLKNet-31B, Swin-B (timm), PeLK-T, SLaK-T, PeLK-101-T,
   ParCNetV2-26M.

Sections 4-5 need mmengine and mmcv's Python part; without them they are
skipped with a note (the grid needs torch alone).
"""
import datetime
import importlib.util
from typing import Callable, Optional, Sequence

import torch

from lkmm.ops import set_cuda_plan_rules

from .grid import (DTYPES, GRID_KERNELS, GRID_RESOLUTIONS, make_cells,
                   measure_end_to_end, measure_part_grid)
from .report import evaluate_targets, write_report
from .rules import propose_rules
from .timing import Deadline, fp32_gemm_tflops, quick_timing

__all__ = ['SECTIONS', 'run_gpu_benchmark']

#: The report's sections, in the order they run.
SECTIONS = ('checks', 'grid', 'amp', 'models')

# Shares of the budget left when each section starts.
_SHARES = dict(parts=0.55, end_to_end=0.45, amp=0.15, models=0.9)


def _have_openmmlab() -> Optional[str]:
    missing = [m for m in ('mmengine', 'mmcv') if
               importlib.util.find_spec(m) is None]
    return None if not missing else (
        f'{", ".join(missing)} not installed (carry the wheels: '
        f'tools/misc/download_gpu_wheels.sh)')


def run_gpu_benchmark(out_dir: str, *args, smoke: bool = False,
                      **kwargs) -> dict:
    """Run the benchmark and write its report into ``out_dir``.

    Args:
        out_dir (str): Where ``gpu_benchmark.{md,json}`` and
            ``proposed_cuda_rules.json`` go.
        device (str): ``'cuda'`` (or ``'cpu'`` for a smoke run).
        budget_s (float): Wall-clock budget in seconds. Defaults to 450.
        dtypes (Sequence[str]): Grid dtypes (``fp32``, ``bf16``, ``fp16``).
        resolutions (Sequence[int]): Grid R values.
        kernels (Sequence[int]): Grid K values (odd).
        batch (int): Grid N (paper: 64).
        channels (int): Grid C (paper: 384).
        layers (int): Grid stack depth (paper: 24).
        model_batch (int): Batch of the model section (paper: 64).
        model_size (int): Image size of the model section (224).
        sections (Sequence[str]): Subset of ``checks``, ``grid``, ``amp``,
            ``models``.
        smoke (bool): Tiny models and check shapes, one timed call per
            measurement (a test of the script itself, e.g. on a CPU; the
            figures mean nothing).
        log (callable, optional): Progress lines; None for none.

    Returns:
        dict: The report (also written as JSON).
    """
    if smoke:
        with quick_timing():
            return _run(out_dir, *args, smoke=True, **kwargs)
    return _run(out_dir, *args, **kwargs)


def _run(out_dir: str,
         device: str = 'cuda',
         budget_s: float = 450.,
         dtypes: Sequence[str] = ('fp32', 'bf16'),
         resolutions: Sequence[int] = GRID_RESOLUTIONS,
         kernels: Sequence[int] = GRID_KERNELS,
         batch: int = 64,
         channels: int = 384,
         layers: int = 24,
         model_batch: int = 64,
         model_size: int = 224,
         sections: Sequence[str] = SECTIONS,
         smoke: bool = False,
         log: Callable = print) -> dict:
    device = torch.device(device)
    deadline = Deadline(budget_s)
    if log is None:
        def log(*_):  # quiet
            pass
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        raise ValueError(f'dtypes must be a subset of {tuple(DTYPES)}, got '
                         f'{bad}')
    bad = [k for k in kernels if k < 1 or k % 2 != 1]
    if bad:
        raise ValueError(f'kernels must be positive odd sizes, got {bad}')
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise ValueError(f'sections must be a subset of {", ".join(SECTIONS)}'
                         f'; got {bad}')
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('device cuda requested but CUDA is not available')
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = 'not installed'
    label = (f'benchmark_gpu {datetime.date.today()} '
             f'{_device_name(device)}')
    report = dict(environment=dict(
        device_name=_device_name(device), torch=torch.__version__,
        triton=triton_version, date=str(datetime.datetime.now())[:19],
        budget_s=budget_s, elapsed_s=0.,
        grid=f'{layers} layers, input ({batch}, {channels}, R, R), '
        f'R in {list(resolutions)}, K in {list(kernels)}, {list(dtypes)}'),
        targets=[], checks={}, grid=[], proposed_cuda_rules=[], models=[],
        skipped=[])
    peak = None
    if device.type == 'cuda':
        peak = fp32_gemm_tflops(device)
        log(f'[env] {report["environment"]["device_name"]}: fp32 SGEMM '
            f'{peak:.1f} TFLOP/s')
    report['environment']['fp32_gemm_tflops'] = peak
    no_mm = _have_openmmlab()
    if 'checks' in sections:
        from .checks import check_parts
        shapes = [(1, 2, 9, 8, 7, 7), (1, 2, 6, 5, 13, 13)] if smoke \
            else None
        report['checks']['parts'] = check_parts(device, shapes, log=log)
    cells = []
    rules = []
    if 'grid' in sections:
        cells = make_cells(dtypes, resolutions, kernels, batch, channels,
                           layers)
        measure_part_grid(cells, device, _share(deadline, 'parts'),
                          log=log)
        rules = propose_rules(cells, label)
        report['proposed_cuda_rules'] = [r.to_dict() for r in rules]
        log(f'[rules] {len(rules)} proposed')
        if device.type == 'cuda':
            set_cuda_plan_rules(rules)
        measure_end_to_end(cells, device, _share(deadline, 'end_to_end'),
                           log=log)
        report['grid'] = [c.to_dict() for c in cells]
    models = []
    try:
        if 'amp' in sections:
            if no_mm:
                report['skipped'].append(f'AMP steps: {no_mm}')
            else:
                from .checks import check_amp_steps
                report['checks']['amp'] = check_amp_steps(
                    device, size=32 if smoke else 128,
                    impls=['auto', 'fft'] if smoke else None, log=log)
        if 'models' in sections:
            if no_mm:
                report['skipped'].append(f'models: {no_mm}')
            else:
                from .models import measure_models
                models = measure_models(
                    device, _share(deadline, 'models'), batch=model_batch,
                    size=model_size, smoke=smoke, log=log)
                report['models'] = [m.to_dict() for m in models]
    finally:
        set_cuda_plan_rules(None)
    report['targets'] = evaluate_targets(cells, models, peak)
    report['environment']['elapsed_s'] = deadline.elapsed()
    paths = write_report(report, out_dir)
    log(f'[report] {paths["markdown"]}, {paths["json"]}, {paths["rules"]}')
    return report


def _share(deadline: Deadline, section: str) -> Deadline:
    return Deadline(max(0., deadline.left()) * _SHARES[section])


def _device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{device.type} ({torch.get_num_threads()} threads)'
