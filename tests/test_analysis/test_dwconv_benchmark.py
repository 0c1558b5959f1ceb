"""tools/analysis/benchmark_dwconv.py: the Table 1 grid bookkeeping (the
timings themselves are never asserted)."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from lkmm.analysis.dwconv_benchmark import (
    PAPER_KERNELS,
    PAPER_RESOLUTIONS,
    benchmark_dwconv_grid,
    format_dwconv_tables,
    time_dwconv_stack,
)
from lkmm.cli.benchmark_dwconv import benchmark_dwconv_main

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_paper_grid():
    assert PAPER_KERNELS == (3, 5, 7, 9, 13, 17, 21, 27, 29, 31)
    assert PAPER_RESOLUTIONS == (16, 32, 64)


@pytest.mark.parametrize('mode', ['forward', 'forward_backward'])
def test_time_dwconv_stack(mode):
    cell = time_dwconv_stack(batch=2, channels=4, resolution=12, kernel=15,
                             layers=2, mode=mode, reps=2)
    assert cell.torch_ms > 0 and cell.lkmm_ms > 0
    assert cell.speedup == pytest.approx(cell.torch_ms / cell.lkmm_ms)
    flop = 2 * 2 * 4 * 12 * 12 * 15 * 15 * 2 / 1e9
    assert cell.gflop == pytest.approx(flop * (3 if mode != 'forward'
                                               else 1))
    assert cell.plan == dict.fromkeys(cell.plan, 'fft')
    # Both implementations computed the same stack.
    assert cell.max_abs_diff < 1e-4
    assert cell.to_dict()['lkmm_gflops'] == pytest.approx(
        cell.gflop / cell.lkmm_ms * 1e3)


def test_bad_arguments():
    with pytest.raises(ValueError, match='mode must be one of'):
        time_dwconv_stack(mode='backward')
    with pytest.raises(ValueError, match='kernel must be a positive odd'):
        time_dwconv_stack(kernel=4)
    with pytest.raises(ValueError, match='layers must be >= 1'):
        time_dwconv_stack(layers=0)


def test_grid_and_tables():
    lines = []
    cells = benchmark_dwconv_grid(kernels=(3, 15), resolutions=(8, 10),
                                  modes=('forward', ), batch=1, channels=2,
                                  reps=1, log=lines.append)
    assert [(c.resolution, c.kernel) for c in cells] == [
        (8, 3), (8, 15), (10, 3), (10, 15)]
    assert len(lines) == 4 and lines[-1].startswith('[4/4] forward R=10 K=15')
    text = format_dwconv_tables(cells)
    assert 'forward (ms, median)' in text
    assert 'speed-up' in text and 'lkmm GFLOP/s' in text
    assert [c.same_as_torch for c in cells] == [True, False, True, False]
    assert 'slowest cell where lkmm runs its own kernel: forward' in text
    assert "cells where lkmm runs torch's kernel" in text
    runs = [ln for ln in text.splitlines() if 'lkmm runs ' in ln]
    assert runs and runs[0].split()[-2:] == ['T', 'F']


def test_cli_writes_json(tmp_path, capsys):
    out = tmp_path / 'cells.json'
    assert benchmark_dwconv_main(
        ['--kernels', '5,9', '--resolutions', '8', '--batch', '1',
         '--channels', '2', '--reps', '1', '--out', str(out)]) == 0
    cells = json.loads(out.read_text())
    assert len(cells) == 4  # 2 kernels x 2 modes
    assert {c['mode'] for c in cells} == {'forward', 'forward_backward'}
    assert 'forward+backward (ms, median)' in capsys.readouterr().out


def test_cli_rejects_bad_input(capsys):
    assert benchmark_dwconv_main(['--kernels', '4,6']) == 2
    assert '--kernels must be positive odd' in capsys.readouterr().err
    assert benchmark_dwconv_main(['--modes', 'backward']) == 2
    assert '--modes must be a subset of forward, forward_backward' in \
        capsys.readouterr().err
    if not torch.cuda.is_available():
        assert benchmark_dwconv_main(['--device', 'cuda']) == 2


def test_tool_runs():
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark_dwconv.py', '--kernels',
         '3', '--resolutions', '8', '--batch', '1', '--channels', '2',
         '--reps', '1', '--modes', 'forward'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'speed-up' in proc.stdout
