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
    cells = report['grid']
    assert [(c['dtype'], c['resolution'], c['kernel']) for c in cells] == [
        ('fp32', 8, 3), ('fp32', 8, 13), ('bf16', 8, 3), ('bf16', 8, 13)]
    for cell in cells:
        for part in ('forward', 'grad_input', 'grad_weight'):
            assert set(cell['parts'][part]) == {'torch', 'channels_last',
                                                'fft', 'triton'}
            assert all(v > 0 for v in cell['parts'][part].values())
        for mode in ('forward', 'forward_backward'):
            assert all(cell[mode][k] > 0 for k in
                       ('torch', 'torch_channels_last', 'lkmm'))
    names = {(m['model'], m['mode'], m['dtype'], m['impl'])
             for m in report['models'] if m['images_per_s']}
    assert len(names) == 20 and ('Swin-B', 'train', 'bf16', 'torch') in names
    share = [m['dwconv_share'] for m in report['models']
             if m['model'] == 'RepLKNet-31B' and m['mode'] == 'train']
    assert len(share) == 4 and all(0 < s < 1 for s in share)
    assert len(report['targets']) == 7
    markdown = (tmp_path / 'gpu_benchmark.md').read_text()
    for heading in ('## Targets', '## RepLKNet Table 1 grid',
                    '## Proposed CUDA plan rules', '## Models'):
        assert heading in markdown
    # The proposed rules load as plan rules.
    assert len(load_plan_rules(str(tmp_path / 'proposed_cuda_rules.json'))
               ) == len(report['proposed_cuda_rules'])
    assert '[report]' in proc.stdout


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
    from lkmm.cli.benchmark_gpu import gpu_benchmark_main
    args = ['--out', str(tmp_path), '--device', 'cpu']
    assert gpu_benchmark_main(args + ['--dtypes', 'fp8']) == 2
    assert "dtypes must be a subset of ('fp32', 'bf16', 'fp16')" in \
        capsys.readouterr().err
    assert gpu_benchmark_main(args + ['--sections', 'grid,plots']) == 2
    assert 'plots' in capsys.readouterr().err
    assert gpu_benchmark_main(args + ['--kernels', '3,4']) == 2
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
