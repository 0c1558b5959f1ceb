"""The GPU benchmark script, tested on the CPU: it runs end to end on tiny
shapes (Triton under its interpreter), writes its report and proposed rules,
runs its grid with torch alone (no OpenMMLab package: the bare GPU machine)
and its model section with mmengine + mmcv's Python part only; rules are
derived from measured figures as documented."""
import json
import os
import subprocess
import sys

import pytest

from lkmm.analysis.gpu_benchmark import GridCell, propose_rules
from lkmm.ops import load_plan_rules

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'analysis', 'benchmark_gpu.py')
# A budget no smoke run reaches, even on a loaded machine (the budget's own
# effect is tested separately).
SMOKE = ['--smoke', '--device', 'cpu', '--budget', '5000', '--batch', '1',
         '--channels', '4', '--layers', '2', '--resolutions', '8',
         '--kernels', '3,13', '--model-batch', '2', '--model-size', '64']

# Runs the tool with some packages made unimportable (a machine without
# them); mmcv's compiled ops are blocked as mmcv-lite lacks them.
_BLOCKER = '''
import importlib.abc, runpy, sys
blocked = set(sys.argv[1].split(','))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in blocked or name in blocked:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
sys.meta_path.insert(0, Block())
import importlib.util
_find_spec = importlib.util.find_spec
def find_spec(name, package=None):
    if name.split('.')[0] in blocked:
        return None
    return _find_spec(name, package)
importlib.util.find_spec = find_spec
tool = sys.argv[2]
sys.argv = [tool] + sys.argv[3:]
runpy.run_path(tool, run_name='__main__')
'''


def run_tool(args, blocked=(), env=None):
    cmd = [sys.executable, '-c', _BLOCKER, ','.join(blocked) or '-', TOOL]
    full_env = dict(os.environ, TRITON_INTERPRET='1', **(env or {}))
    proc = subprocess.run(cmd + args, cwd=REPO, env=full_env, text=True,
                          capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


@pytest.mark.slow
def test_smoke_run_without_mmpretrain_mmseg_mmdet(tmp_path):
    # The GPU machine has mmengine + mmcv-lite from carried wheels, nothing
    # else of OpenMMLab: every section must run with just that.
    proc = run_tool(SMOKE + ['--out', str(tmp_path)],
                    blocked=('mmpretrain', 'mmseg', 'mmdet', 'mmcv._ext',
                             'mmcv.ops'))
    report = json.loads((tmp_path / 'gpu_benchmark.json').read_text())
    assert report['skipped'] == []
    parts = report['checks']['parts']
    assert parts and all(r['ok'] for r in parts), \
        [r for r in parts if not r['ok']]
    # Triton ran (interpreter) among the checked implementations.
    assert {'torch', 'channels_last', 'fft', 'triton'} <= \
        {r['impl'] for r in parts}
    assert all(r['ok'] for r in report['checks']['amp'])
    assert report['status'] == 'complete'
    cells = report['grid']
    # The dtypes interleaved: a budget that runs out cuts both alike.
    assert [(c['dtype'], c['resolution'], c['kernel']) for c in cells] == [
        ('fp32', 8, 3), ('bf16', 8, 3), ('fp32', 8, 13), ('bf16', 8, 13)]
    for cell in cells:
        for part in ('forward', 'grad_input', 'grad_weight'):
            assert set(cell['parts'][part]) == {'torch', 'channels_last',
                                                'fft', 'triton'}
        for mode in ('forward', 'forward_backward'):
            assert set(cell[mode]) == {'torch', 'torch_channels_last',
                                       'lkmm'}
        _assert_timed_or_noted(cell)
    # A series' first cell (K=3) has no prediction to skip it by and the
    # budget is out of reach: everything there is measured.
    for cell in cells[:2]:
        assert cell['notes'] == {}
    models = report['models']
    names = {(m['model'], m['mode'], m['dtype'], m['impl']) for m in models}
    assert len(names) == len(models) == 20
    assert ('Swin-B', 'train', 'bf16', 'torch') in names
    assert all((m['images_per_s'] or 0) > 0 or m['note'] for m in models)
    assert any(m['images_per_s'] for m in models)
    share = [m['dwconv_share'] for m in models
             if m['model'] == 'RepLKNet-31B' and m['mode'] == 'train']
    assert len(share) == 4
    # One timed call each in a smoke run: under load the replayed convs
    # can take longer than the step they came from (seen at 1 and above
    # with a busy neighbour), so only that a share was measured is
    # asserted.
    assert all(s > 0 for s in share if s is not None)
    assert len(report['targets']) == 7
    markdown = (tmp_path / 'gpu_benchmark.md').read_text()
    for heading in ('## Targets', '## RepLKNet Table 1 grid',
                    '## Proposed CUDA plan rules', '## Models'):
        assert heading in markdown
    # The proposed rules load as plan rules.
    assert len(load_plan_rules(str(tmp_path / 'proposed_cuda_rules.json'))
               ) == len(report['proposed_cuda_rules'])
    assert '[report]' in proc.stdout
    # The first lines say what ran it.
    env = proc.stdout.splitlines()[0]
    for name in ('torch', 'triton', 'cuda', 'driver', 'host_cc'):
        assert f' {name} ' in env, env


def _assert_timed_or_noted(cell):
    # On a loaded machine a timing can be missing (predicted over the skip
    # threshold, or past the budget): then a note says why. Never compared.
    timings = {f'{part}/{impl}': ms for part, row in cell['parts'].items()
               for impl, ms in row.items()}
    timings.update({f'{mode}/{impl}': cell[mode][impl] for mode in
                    ('forward', 'forward_backward') for impl in cell[mode]})
    for key, ms in timings.items():
        assert (ms is None and cell['notes'].get(key)) or ms > 0, \
            (key, ms, cell['notes'])


@pytest.mark.slow
def test_grid_runs_with_torch_alone(tmp_path):
    # No mmengine, no mmcv: lkmm.ops and the grid work, the sections that
    # need lkmm's backbones say why they are skipped.
    run_tool(SMOKE[:-4] + ['--out', str(tmp_path), '--dtypes', 'fp32',
                           '--sections', 'grid,amp,models'],
             blocked=('mmengine', 'mmcv', 'mmpretrain', 'mmseg', 'mmdet'))
    report = json.loads((tmp_path / 'gpu_benchmark.json').read_text())
    assert len(report['grid']) == 2
    assert len(report['skipped']) == 2
    assert all('mmengine, mmcv not installed' in s and
               'download_gpu_wheels.sh' in s for s in report['skipped'])


def test_bad_arguments_exit_2_with_the_allowed_values(tmp_path, capsys):
    from lkmm.cli.benchmark_gpu import benchmark_gpu_main
    args = ['--out', str(tmp_path), '--device', 'cpu']
    assert benchmark_gpu_main(args + ['--dtypes', 'fp8']) == 2
    assert "dtypes must be a subset of ('fp32', 'bf16', 'fp16')" in \
        capsys.readouterr().err
    assert benchmark_gpu_main(args + ['--sections', 'grid,plots']) == 2
    assert 'plots' in capsys.readouterr().err
    assert benchmark_gpu_main(args + ['--kernels', '3,4']) == 2
    assert 'kernels must be positive odd sizes, got [4]' in \
        capsys.readouterr().err


def _cell(res, kernel, dtype='fp32', **parts):
    cell = GridCell(dtype, res, kernel, 64, 384, 24)
    for part in ('forward', 'grad_input', 'grad_weight'):
        cell.parts[part] = dict(parts.get(part, dict(torch=10.)))
    return cell


def test_rules_from_measured_winners():
    cells = [
        # forward: triton wins clearly from K=17 at R=32, FFT at K=51 and
        # 101 (cropped 63), torch (margin 0.9) at 13.
        _cell(32, 13, forward=dict(torch=10., triton=9.5, fft=20.)),
        _cell(32, 17, forward=dict(torch=10., triton=4., fft=8.)),
        _cell(32, 31, forward=dict(torch=30., triton=6., fft=7.)),
        _cell(32, 51, forward=dict(torch=80., triton=20., fft=9.)),
        _cell(32, 101, forward=dict(torch=300., triton=90., fft=10.)),
        # R=16: K=31 and 51 both crop to 31; the first measured counts.
        _cell(16, 31, forward=dict(torch=10., channels_last=5.)),
        _cell(16, 51, forward=dict(torch=10., fft=1.)),
    ]
    rules = propose_rules(cells, 'test-gpu')
    fwd = [(r.impl, r.kernel, r.map_size) for r in rules
           if r.part == 'forward']
    assert fwd == [
        ('channels_last', (1, 999), (1, 24)),
        ('triton', (16, 41), (25, 4096)),
        ('fft', (42, 999), (25, 4096)),
    ]
    assert all(r.dtypes == ('float32', ) and r.memory_format == 'nchw'
               for r in rules)
    assert [r.part for r in rules] == ['forward'] * 3  # torch elsewhere
    triton_rule = rules[1]
    assert 'test-gpu: fp32 forward R=32: K=17: 4.00 vs torch 10.00 ms; ' \
           'K=31: 6.00 vs torch 30.00 ms' == triton_rule.source


def test_what_does_not_fit_the_budget_is_marked_not_measured(tmp_path):
    from lkmm.analysis.gpu_benchmark import run_gpu_benchmark
    report = run_gpu_benchmark(
        str(tmp_path), device='cpu', budget_s=0., dtypes=['fp32'],
        resolutions=[8], kernels=[3], batch=1, channels=2, layers=1,
        model_batch=1, model_size=32, sections=['grid', 'models'],
        smoke=True, log=None)
    cell = report['grid'][0]
    assert all(v is None for part in cell['parts'].values()
               for v in part.values())
    assert set(cell['notes'].values()) == {'not measured (time budget)'}
    assert report['models'] and all(
        m['note'] == 'not measured (time budget)' and m['ms'] is None
        for m in report['models'])
    assert all(t['met'] is None for t in report['targets'][:-1])
    markdown = (tmp_path / 'gpu_benchmark.md').read_text()
    assert 'not measured (time budget)' in markdown


def test_headline_cells_and_models_come_first():
    from lkmm.analysis.gpu_benchmark.grid import make_cells
    from lkmm.analysis.gpu_benchmark.models import HEADLINE_MODELS, model_plan
    headline, rest = make_cells(['fp32', 'bf16'], [16, 32, 64], [3, 31, 51],
                                64, 384, 24)
    assert [(c.dtype, c.resolution, c.kernel) for c in headline] == [
        ('fp32', 32, 31), ('bf16', 32, 31)]
    assert [(c.dtype, c.resolution, c.kernel) for c in rest[:4]] == [
        ('fp32', 32, 3), ('bf16', 32, 3), ('fp32', 32, 51),
        ('bf16', 32, 51)]
    assert len(rest) == 2 * 3 * 3 - 2
    assert set(HEADLINE_MODELS) <= set(model_plan())


def _failing_run(tmp_path, monkeypatch, failure):
    # The grid's first part measurement fails the way ``failure`` does;
    # the checks before it ran.
    from lkmm.analysis.gpu_benchmark import run as run_mod

    def measure(*args, **kwargs):
        failure()

    monkeypatch.setattr(run_mod, 'measure_part_grid', measure)
    return run_mod.run_gpu_benchmark(
        str(tmp_path), device='cpu', budget_s=60., dtypes=['fp32'],
        resolutions=[8], kernels=[3], batch=1, channels=2, layers=1,
        sections=['checks', 'grid'], smoke=True, log=None)


def test_the_report_survives_an_exception(tmp_path, monkeypatch):
    # Not only ValueError/RuntimeError: whatever ends the run, what was
    # measured before it is on disk and the status says why it stopped.
    def failure():
        raise KeyError('KH')

    with pytest.raises(KeyError):
        _failing_run(tmp_path, monkeypatch, failure)
    report = json.loads((tmp_path / 'gpu_benchmark.json').read_text())
    assert report['status'] == "failed: KeyError: 'KH'"
    assert report['checks']['parts'] and all(
        r['ok'] for r in report['checks']['parts'])
    assert "Status: failed: KeyError: 'KH'." in \
        (tmp_path / 'gpu_benchmark.md').read_text()


def test_the_report_survives_sigterm(tmp_path, monkeypatch):
    import signal

    def failure():
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(SystemExit) as stop:
        _failing_run(tmp_path, monkeypatch, failure)
    assert stop.value.code == 143
    report = json.loads((tmp_path / 'gpu_benchmark.json').read_text())
    assert report['status'] == 'interrupted: SIGTERM'
    assert report['checks']['parts']
    # The handler is put back once the run is over.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_the_watchdog_writes_the_report_and_ends_the_run(tmp_path):
    # A step that hangs past the budget: the watchdog (budget + grace)
    # leaves the report and ends the process with its own code.
    script = f'''
import time
from lkmm.analysis.gpu_benchmark import run as run_mod
run_mod._WATCHDOG_GRACE.update(minimum=1.0, fraction=0.)
run_mod.measure_part_grid = lambda *a, **k: time.sleep(60)
run_mod.run_gpu_benchmark({str(tmp_path)!r}, device='cpu', budget_s=1.,
    dtypes=['fp32'], resolutions=[8], kernels=[3], batch=1, channels=2,
    layers=1, sections=['grid'], smoke=True)
'''
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    from lkmm.analysis.gpu_benchmark.keeper import WATCHDOG_EXIT_CODE
    assert proc.returncode == WATCHDOG_EXIT_CODE, proc.stderr[-2000:]
    report = json.loads((tmp_path / 'gpu_benchmark.json').read_text())
    assert report['status'].startswith('stopped by the watchdog at 2 s')
    assert [c['kernel'] for c in report['grid']] == [3]
    assert 'watchdog' in proc.stdout
