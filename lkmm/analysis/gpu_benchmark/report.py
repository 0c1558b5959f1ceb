"""The GPU benchmark's report: targets, markdown tables, JSON."""
import json
from typing import Dict, List, Optional, Sequence

from lkmm.ops import DWCONV_PARTS

from .grid import E2E_IMPLS, GridCell
from .models import ModelResult

__all__ = ['evaluate_targets', 'format_markdown', 'write_report']

_CODES = dict(torch='T', channels_last='C', fft='F', triton='X')


def _fmt(value: Optional[float], spec: str = '.2f') -> str:
    return '-' if value is None else format(value, spec)


def _cell(cells: Sequence[GridCell], dtype: str, res: int,
          kernel: int) -> Optional[GridCell]:
    for c in cells:
        if (c.dtype, c.resolution, c.kernel) == (dtype, res, kernel):
            return c
    return None


def _model(results: Sequence[ModelResult], name: str, mode: str,
           dtype: str, impl: str) -> Optional[ModelResult]:
    for r in results:
        if (r.model, r.mode, r.dtype, r.impl) == (name, mode, dtype, impl):
            return r
    return None


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if not a or not b else a / b


def evaluate_targets(cells: Sequence[GridCell],
                     models: Sequence[ModelResult],
                     fp32_peak_tflops: Optional[float]) -> List[dict]:
    """The issue's targets, each with the measured value (None: not
    measured) and whether it is met. Nothing here asserts: the report
    prints them."""
    targets = []

    def add(name, value, goal, met, detail=''):
        targets.append(dict(target=name, value=value, goal=goal,
                            met=None if value is None else bool(met),
                            detail=detail))

    c = _cell(cells, 'fp32', 32, 31)
    fwd = c.forward.get('lkmm') if c else None
    tflops = c.tflops(fwd) if c and fwd else None
    add('R=32 K=31 fp32: lkmm forward TFLOP/s / fp32 peak (SGEMM)',
        _ratio(tflops, fp32_peak_tflops), '>= 0.5',
        tflops is not None and fp32_peak_tflops and
        tflops / fp32_peak_tflops >= 0.5,
        f'{_fmt(tflops)} TFLOP/s vs SGEMM {_fmt(fp32_peak_tflops)}')
    if c:
        fb = c.forward_backward
        torch_best = min([v for k, v in fb.items()
                          if k != 'lkmm' and v is not None], default=None)
        speedup = _ratio(torch_best, fb.get('lkmm'))
    else:
        speedup = None
    add('R=32 K=31 fp32: forward+backward, best torch path / lkmm',
        speedup, '>= 3', speedup is not None and speedup >= 3)
    b = _cell(cells, 'bf16', 32, 31)
    ratio = _ratio(c.forward_backward.get('lkmm') if c else None,
                   b.forward_backward.get('lkmm') if b else None)
    add('R=32 K=31: lkmm fp32 / bf16 forward+backward time', ratio,
        '>= 1 (bf16 at least as fast)', ratio is not None and ratio >= 1)
    share = _model(models, 'RepLKNet-31B', 'train', 'fp32', 'lkmm')
    value = share.dwconv_share if share else None
    add('RepLKNet-31B fp32 train step: DW-conv share', value, '<= 0.15',
        value is not None and value <= 0.15)
    ratio = _ratio(
        _ips(_model(models, 'RepLKNet-31B', 'inference', 'fp32', 'lkmm')),
        _ips(_model(models, 'Swin-B', 'inference', 'fp32', 'torch')))
    add('Inference img/s RepLKNet-31B / Swin-B (fp32)', ratio,
        '>= 1.31 (paper Table 6)', ratio is not None and ratio >= 1.31)
    ratio = _ratio(
        _ips(_model(models, 'PeLK-T', 'inference', 'fp32', 'lkmm')),
        _ips(_model(models, 'SLaK-T', 'inference', 'fp32', 'lkmm')))
    add('Inference img/s PeLK-T / SLaK-T (fp32)', ratio,
        '>= 1.5 (paper Table 8: 1138 / 754)',
        ratio is not None and ratio >= 1.5)
    slower = []
    measured = 0
    for cell in cells:
        for mode in ('forward', 'forward_backward'):
            times = getattr(cell, mode)
            lk, ref = times.get('lkmm'), times.get('torch')
            if lk and ref:
                measured += 1
                # 5% for timing noise where lkmm runs torch's own kernel.
                if lk > ref * 1.05:
                    slower.append(f'{cell.dtype} {mode} R={cell.resolution}'
                                  f' K={cell.kernel}: {lk:.2f} vs {ref:.2f}')
    add('Cells where lkmm is slower than torch NCHW (> 5%)',
        None if not measured else len(slower), '0', not slower,
        '; '.join(slower[:8]))
    return targets


def _ips(result: Optional[ModelResult]) -> Optional[float]:
    return None if result is None else result.images_per_s


def _grid_tables(cells: Sequence[GridCell]) -> List[str]:
    lines = []
    for dtype in sorted({c.dtype for c in cells}, key=lambda d: d != 'fp32'):
        sub = [c for c in cells if c.dtype == dtype]
        kernels = sorted({c.kernel for c in sub})
        for mode, label, n_parts in (('forward', 'forward', 1),
                                     ('forward_backward',
                                      'forward+backward', 3)):
            lines += ['', f'#### {dtype}, {label} (ms for the stack; '
                      f'speed-up = best torch / lkmm)', '',
                      '| R | | ' + ' | '.join(map(str, kernels)) + ' |',
                      '|---|---|' + '---|' * len(kernels)]
            for res in sorted({c.resolution for c in sub}):
                row = {c.kernel: c for c in sub if c.resolution == res}

                def line(name, fn, row=row, res=res):
                    vals = [fn(row[k]) if k in row else '-' for k in kernels]
                    first = str(res) if name == 'torch NCHW' else ''
                    return f'| {first} | {name} | ' + ' | '.join(vals) + ' |'

                def get(impl, mode=mode):
                    return lambda c: _fmt(getattr(c, mode).get(impl), '.1f')

                lines.append(line('torch NCHW', get('torch')))
                lines.append(line('torch channels_last',
                                  get('torch_channels_last')))
                lines.append(line('lkmm', get('lkmm')))

                def speedup(c, mode=mode):
                    t = getattr(c, mode)
                    best = min([t[k] for k in E2E_IMPLS[:2] if t.get(k)],
                               default=None)
                    return _fmt(_ratio(best, t.get('lkmm')), '.2f') + 'x'

                lines.append(line('speed-up', speedup))
                lines.append(line('lkmm TFLOP/s', lambda c, mode=mode,
                                  n=n_parts: _fmt(c.tflops(
                                      getattr(c, mode).get('lkmm'), n),
                                      '.3g')))
                lines.append(line('lkmm runs', lambda c: '/'.join(
                    _CODES.get(c.plan.get(p), '?') for p in DWCONV_PARTS)
                    if c.plan else '-'))
        lines += ['', f'#### {dtype}, each part by each implementation '
                  f'(ms; T torch, C channels-last conversion + torch, '
                  f'F FFT, X Triton)', '',
                  '| R | K | part | ' + ' | '.join(_CODES) + ' | best |',
                  '|---|---|---|' + '---|' * (len(_CODES) + 1)]
        for c in sub:
            for part in DWCONV_PARTS:
                times = c.parts.get(part, {})
                lines.append(
                    f'| {c.resolution} | {c.kernel} | {part} | ' +
                    ' | '.join(_fmt(times.get(i)) for i in _CODES) +
                    f' | {c.best(part) or "-"} |')
    return lines


def format_markdown(report: dict) -> str:
    """The whole report as markdown."""
    env = report['environment']
    lines = ['# lkmm GPU benchmark', '',
             f'Status: {report.get("status", "-")}.', '',
             f'{env["device_name"]}, torch {env["torch"]}, triton '
             f'{env["triton"]}, CUDA {env.get("cuda", "-")}, driver '
             f'{env.get("driver", "-")}, host C compiler '
             f'{env.get("host_cc", "-")}; {env["date"]}; budget '
             f'{env["budget_s"]} s, ran {env["elapsed_s"]:.0f} s. fp32 SGEMM '
             f'(TF32 off): {_fmt(env.get("fp32_gemm_tflops"), ".1f")} '
             f'TFLOP/s.', '',
             f'Stack: {env["grid"]}.', '', '## Targets', '',
             '| target | measured | goal | met |', '|---|---|---|---|']
    for t in report['targets']:
        met = {True: 'yes', False: 'NO', None: 'not measured'}[t['met']]
        detail = f' ({t["detail"]})' if t['detail'] else ''
        lines.append(f'| {t["target"]} | {_fmt(t["value"], ".3g")}{detail} '
                     f'| {t["goal"]} | {met} |')
    checks = report.get('checks', {})
    for name, rows in checks.items():
        bad = [r for r in rows if not r['ok']]
        lines += ['', f'Checks, {name}: {len(rows) - len(bad)}/{len(rows)} '
                  f'passed.'] + [f'- FAILED: {r}' for r in bad[:20]]
    cells = [GridCell(**c) for c in report.get('grid', [])]
    if cells:
        lines += ['', '## RepLKNet Table 1 grid'] + _grid_tables(cells)
        notes = [f'- {c.dtype} R={c.resolution} K={c.kernel} {k}: {v}'
                 for c in cells for k, v in c.notes.items()]
        if notes:
            lines += ['', 'Notes:'] + notes[:60]
    lines += ['', '## Proposed CUDA plan rules', '']
    rules = report.get('proposed_cuda_rules', [])
    lines += [f'- {r["part"]} -> {r["impl"]} ({"/".join(r["dtypes"])}, '
              f'kernel {r["kernel"][0]}-{r["kernel"][1]}, map '
              f'{r["map_size"][0]}-{r["map_size"][1]}): {r["source"]}'
              for r in rules] or ['none: torch\'s kernel wins everywhere '
                                  '(or nothing was measured)']
    models = report.get('models', [])
    if models:
        lines += ['', '## Models', '',
                  '| model | mode | dtype | impl | batch | img/s | peak GiB '
                  '| DW share | note |', '|---' * 9 + '|']
        for m in models:
            share = m.get('dwconv_share')
            lines.append(
                f'| {m["model"]} | {m["mode"]} | {m["dtype"]} | {m["impl"]} '
                f'| {m["batch"]} | {_fmt(m.get("images_per_s"), ".1f")} | '
                f'{_fmt(m.get("peak_mem_gib"), ".1f")} | '
                f'{"-" if share is None else f"{share:.1%}"} | {m["note"]} |')
    for note in report.get('skipped', []):
        lines += ['', f'Skipped: {note}']
    return '\n'.join(lines) + '\n'


def write_report(report: dict, out_dir: str) -> Dict[str, str]:
    """Write ``gpu_benchmark.json``, ``gpu_benchmark.md`` and
    ``proposed_cuda_rules.json`` (loadable with ``LKMM_DWCONV_CUDA_RULES``)
    into ``out_dir``, each atomically."""
    import os
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(json=os.path.join(out_dir, 'gpu_benchmark.json'),
                 markdown=os.path.join(out_dir, 'gpu_benchmark.md'),
                 rules=os.path.join(out_dir, 'proposed_cuda_rules.json'))
    payloads = dict(
        json=json.dumps(report, indent=1, default=str),
        markdown=format_markdown(report),
        rules=json.dumps(report.get('proposed_cuda_rules', []), indent=1))
    for key, text in payloads.items():
        tmp = paths[key] + '.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, paths[key])
    return paths
