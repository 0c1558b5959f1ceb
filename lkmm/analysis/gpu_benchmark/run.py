"""One prepared GPU benchmark: checks, Table 1 grid, proposed plan, models.

The steps are ordered so that a lease cut short still answers the targets;
each has a deadline, and whatever does not fit is marked "not measured".
The report is rewritten after every cell and model row
(:class:`.keeper.ReportKeeper`). The model steps need mmengine and mmcv's
Python part and are skipped with a note without them (the grid needs torch
alone). Steps, budget and targets: ``docs/depthwise_conv.md``, "The GPU
benchmark".
"""
import datetime
import importlib.util
import os
import shutil
import subprocess
from typing import Callable, Optional, Sequence

import torch

from lkmm.ops import set_cuda_plan_rules

from .grid import (
    DTYPES,
    GRID_KERNELS,
    GRID_RESOLUTIONS,
    make_cells,
    measure_end_to_end,
    measure_part_grid,
)
from .keeper import ReportKeeper
from .rules import propose_rules
from .timing import Deadline, fp32_gemm_tflops, quick_timing

__all__ = ['SECTIONS', 'run_gpu_benchmark']

#: The report's sections.
SECTIONS = ('checks', 'grid', 'amp', 'models')

# Shares of the budget left when each step starts.
_SHARES = dict(checks=0.1, headline_parts=0.3, headline_e2e=0.4,
               headline_models=0.5, parts=0.55, end_to_end=0.6, amp=0.3,
               models=0.95)
# The watchdog writes the report and ends the run this long past the
# budget (a hung kernel or a step that overran its deadline).
_WATCHDOG_GRACE = dict(fraction=0.1, minimum=30.)


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
        budget_s (float): Wall-clock budget in seconds. Defaults to 330
            (the watchdog ends the run 10% later: 6 minutes in all).
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
         budget_s: float = 330.,
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
    if log is None:
        def log(*_):  # quiet
            pass
    _check_arguments(device, dtypes, kernels, sections)
    deadline = Deadline(budget_s)
    environment = describe_environment(device)
    log('[env] ' + ', '.join(f'{k} {v}' for k, v in environment.items()))
    environment.update(
        budget_s=budget_s, elapsed_s=0.,
        grid=f'{layers} layers, input ({batch}, {channels}, R, R), '
        f'R in {list(resolutions)}, K in {list(kernels)}, {list(dtypes)}')
    report = dict(environment=environment, checks={}, grid=[],
                  proposed_cuda_rules=[], models=[], skipped=[])
    environment['fp32_gemm_tflops'] = None
    grace = max(_WATCHDOG_GRACE['minimum'],
                _WATCHDOG_GRACE['fraction'] * budget_s)
    keeper = ReportKeeper(report, out_dir, deadline,
                          watchdog_s=budget_s + grace, log=log)
    steps = _Steps(keeper, device, deadline, log, smoke,
                   dict(model_batch=model_batch, model_size=model_size))
    headline, rest = make_cells(dtypes, resolutions, kernels, batch,
                                channels, layers)
    no_mm = _have_openmmlab()
    with keeper:
        try:
            if device.type == 'cuda':
                keeper.peak = fp32_gemm_tflops(device)
                environment['fp32_gemm_tflops'] = keeper.peak
                log(f'[env] fp32 SGEMM {keeper.peak:.1f} TFLOP/s')
            if 'checks' in sections:
                steps.check_parts()
            if 'grid' in sections:
                steps.grid(headline, 'headline_parts', 'headline_e2e')
            if 'models' in sections and not no_mm:
                steps.models(headline_only=True)
            if 'grid' in sections:
                steps.grid(rest, 'parts', 'end_to_end')
            if 'amp' in sections:
                steps.amp(no_mm)
            if 'models' in sections:
                steps.models(headline_only=False, missing=no_mm)
        finally:
            set_cuda_plan_rules(None)
    log(f'[report] {keeper.paths["markdown"]}, {keeper.paths["json"]}, '
        f'{keeper.paths["rules"]}')
    return keeper.save()


def _check_arguments(device, dtypes, kernels, sections) -> None:
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


class _Steps:
    """The benchmark's steps, each saving the report as it goes."""

    def __init__(self, keeper: ReportKeeper, device: torch.device,
                 deadline: Deadline, log: Callable, smoke: bool,
                 model_args: dict):
        self.keeper = keeper
        self.report = keeper.report
        self.device = device
        self.deadline = deadline
        self.log = log
        self.smoke = smoke
        self.model_args = model_args
        self.label = (f'benchmark_gpu {datetime.date.today()} '
                      f'{keeper.report["environment"]["device_name"]}')

    def share(self, step: str) -> Deadline:
        return Deadline(max(0., self.deadline.left()) * _SHARES[step])

    def check_parts(self) -> None:
        from .checks import check_parts
        shapes = [(1, 2, 9, 8, 7, 7), (1, 2, 6, 5, 13, 13)] if self.smoke \
            else None
        self.report['checks']['parts'] = check_parts(
            self.device, shapes, log=self.log,
            deadline=self.share('checks'))
        self.keeper.save()

    def grid(self, cells, parts_step: str, e2e_step: str) -> None:
        """Each part of ``cells`` by each implementation, rules proposed
        from every cell measured so far, then ``cells`` end to end."""
        if not cells:
            return
        self.keeper.cells.extend(cells)
        measure_part_grid(cells, self.device, self.share(parts_step),
                          log=self.log, after_cell=self.keeper.save)
        rules = propose_rules(self.keeper.cells, self.label)
        self.report['proposed_cuda_rules'] = [r.to_dict() for r in rules]
        self.log(f'[rules] {len(rules)} proposed')
        if self.device.type == 'cuda':
            set_cuda_plan_rules(rules)
        self.keeper.save()
        measure_end_to_end(cells, self.device, self.share(e2e_step),
                           log=self.log, after_cell=self.keeper.save)

    def amp(self, missing: Optional[str]) -> None:
        if missing:
            self.report['skipped'].append(f'AMP steps: {missing}')
            return
        from .checks import check_amp_steps
        self.report['checks']['amp'] = check_amp_steps(
            self.device, size=32 if self.smoke else 128,
            impls=['auto', 'fft'] if self.smoke else None, log=self.log,
            deadline=self.share('amp'))
        self.keeper.save()

    def models(self, headline_only: bool,
               missing: Optional[str] = None) -> None:
        if missing:
            self.report['skipped'].append(f'models: {missing}')
            return
        from .models import HEADLINE_MODELS, measure_models, model_plan
        plan = [row for row in model_plan()
                if (row in HEADLINE_MODELS) == headline_only]
        if headline_only:
            plan.sort(key=HEADLINE_MODELS.index)
        measure_models(
            self.device,
            self.share('headline_models' if headline_only else 'models'),
            batch=self.model_args['model_batch'],
            size=self.model_args['model_size'], smoke=self.smoke,
            log=self.log, plan=plan, results=self.keeper.models,
            after_each=self.keeper.save)


def describe_environment(device: torch.device) -> dict:
    """torch, triton, CUDA, driver and the host C compiler (Triton builds
    its launcher with it) as strings, for the report's first lines."""
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = 'not installed'
    return dict(device_name=_device_name(device), torch=torch.__version__,
                triton=triton_version, cuda=str(torch.version.cuda),
                driver=_first_line(['nvidia-smi', '--query-gpu='
                                    'driver_version', '--format=csv,noheader']
                                   ),
                host_cc=_host_compiler(),
                date=str(datetime.datetime.now())[:19])


def _host_compiler() -> str:
    cc = os.environ.get('CC') or next(
        (c for c in ('cc', 'gcc', 'clang') if shutil.which(c)), None)
    if cc is None:
        return 'none found (Triton needs one to build its launcher)'
    return f'{cc}: {_first_line([cc, "--version"])}'


def _first_line(cmd) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as err:
        return f'unavailable ({type(err).__name__})'
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines and out.returncode == 0 else 'unavailable'


def _device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{device.type} ({torch.get_num_threads()} threads)'
