"""The Triton tile report: useful work by hand, and ptxas's figures read
from a kernel compiled for sm_90 on the CPU."""
import pytest

from lkmm.analysis.triton_resources import (
    TileResources,
    format_resources,
    useful_fraction,
)

LAYER = (64, 384, 32, 32)


def test_useful_fraction_by_hand():
    # Forward 32x32 output tile, 32-column chunks, K=31: the band spans
    # 32 + 30 = 62 columns, issued as 64, for 31 useful taps.
    assert useful_fraction('forward', (32, 32, 32), LAYER, 31) == 31 / 64
    # A 64-wide tile on a 32-wide map: half its columns are padding, and
    # its 94-column band is issued as 96.
    assert useful_fraction('forward', (32, 64, 32), LAYER, 31) == \
        pytest.approx(31 / 96 / 2)
    # Weight gradient: the 31x31 kernel in one 32x32 tile, the 32 columns
    # of a row in 64-column chunks.
    assert useful_fraction('weight', (32, 32, 64), LAYER, 31) == \
        pytest.approx(31 * 31 / 32 / 32 / 2)
    with pytest.raises(ValueError, match="'forward' or 'weight'"):
        useful_fraction('backward', (16, 16, 16), LAYER, 3)


@pytest.mark.slow
def test_registers_and_shared_memory_from_the_compiled_kernel():
    triton = pytest.importorskip('triton')
    from lkmm.analysis.triton_resources import _ptxas_usage, compile_for_hopper
    config = triton.Config(dict(BLOCK_I=16, BLOCK_J=16, BLOCK_U=32),
                           num_warps=4, num_stages=3)
    out = compile_for_hopper('weight', 'bf16', config)
    registers, spills = _ptxas_usage(out.asm['ptx'])
    assert 16 <= registers <= 255 and spills >= 0
    assert out.metadata.shared > 0


def test_table_marks_the_fp32_bound_only_for_fp32():
    rows = [TileResources('forward', '32x32x32, 4 warps, 3 stages', 'fp32',
                          168, 16, 16384, 31 / 64, 31 / 64),
            TileResources('forward', '32x32x32, 4 warps, 3 stages', 'bf16',
                          78, 0, 4096, 31 / 64, None)]
    table = format_resources(rows).splitlines()
    assert table[2].endswith('| 48% | 48% |')
    assert table[3].endswith('| 48% | - |')
