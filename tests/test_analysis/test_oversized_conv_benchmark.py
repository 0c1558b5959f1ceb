"""tools/analysis/benchmark_oversized_conv.py's logic."""
import json

import pytest

from lkmm.analysis.oversized_conv_benchmark import (
    benchmark_oversized_conv,
    format_oversized_conv_table,
    time_oversized_conv,
)
from lkmm.cli.benchmark_oversized_conv import benchmark_oversized_conv_main


def test_cells_cover_stages_and_agree():
    cells = benchmark_oversized_conv('10m', resolutions=[64], batch=1,
                                     reps=1)
    # 64 -> maps 16, 8, 4, 2 with the global channels of 10m.
    assert [(c.map_size, c.channels) for c in cells] == [
        (16, 12), (8, 48), (4, 144), (2, 384)]
    for c in cells:
        assert set(c.ms) == {'torch', 'spatial', 'fft'}
        assert max(c.max_rel_err.values()) < 1e-5
    table = format_oversized_conv_table(cells)
    assert 'fastest' in table and len(table.splitlines()) == 5


def test_forward_mode_and_errors(tmp_path):
    ms, err = time_oversized_conv(1, 2, 5, mode='forward', reps=1)
    assert err['torch'] == 0 and err['fft'] < 1e-5
    with pytest.raises(ValueError, match='mode must be one of'):
        time_oversized_conv(1, 2, 5, mode='backward')
    out = tmp_path / 'cells.json'
    assert benchmark_oversized_conv_main(
        ['--arch', '10m', '--resolutions', '32', '--batch', '1', '--reps',
         '1', '--out', str(out)]) == 0
    assert len(json.loads(out.read_text())) == 4


def test_auto_column_follows_the_mode():
    """'auto' plans differently with and without a backward pass (the FFT
    pays off from shorter axes in inference): the column reports the plan
    of the mode measured."""
    from lkmm.layers.oversized_conv import plan_oversized_conv
    for mode, needs_grad in (('forward', False), ('forward_backward', True)):
        cells = benchmark_oversized_conv('10m', resolutions=[48], batch=1,
                                         reps=1, mode=mode)
        for cell in cells:
            plan = plan_oversized_conv((cell.map_size, cell.map_size),
                                       impl='auto', needs_grad=needs_grad)
            assert cell.auto == '/'.join(plan)
    # 48 px -> a 12 px stage: FFT in inference, torch in a train step.
    assert plan_oversized_conv((12, 12), needs_grad=False) == ('fft', 'fft')
    assert plan_oversized_conv((12, 12), needs_grad=True) == ('torch',
                                                              'torch')
