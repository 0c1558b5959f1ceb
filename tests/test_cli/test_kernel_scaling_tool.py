"""tools/analysis/kernel_scaling.py (lkmm/cli/kernel_scaling.py): table,
PNG and JSON of parameters against kernel size, end to end."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from lkmm.cli.kernel_scaling import (
    kernel_scaling_main,
    parse_kernel_scaling_args,
    run_kernel_scaling,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='lkmm.LargeKernelConvNeXt', arch=dict(
        depths=[1, 1, 1, 1], channels=[4, 8, 8, 12], kernel_sizes=[7] * 4,
        form='stripe')),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=12))
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / 'tiny_lk.py'
    path.write_text(TINY_CONFIG)
    return str(path)


def test_table_png_and_json(tiny_config, tmp_path, capsys):
    png, report = tmp_path / 'scaling.png', tmp_path / 'scaling.json'
    rows = run_kernel_scaling(parse_kernel_scaling_args(
        [tiny_config, '--kernels', '7,11,21', '--forms', 'dense,peripheral',
         '--out', str(png), '--json', str(report)]))
    assert [(r.form, r.kernel_size) for r in rows] == [
        ('dense', 7), ('dense', 11), ('dense', 21), ('peripheral', 7),
        ('peripheral', 11), ('peripheral', 21)]
    printed = capsys.readouterr().out
    assert '[6/6] peripheral K=21' in printed  # progress per model
    assert '| K | dense params (M) | peripheral params (M) |' in printed
    assert '| 21 |' in printed
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    saved = json.loads(report.read_text())
    assert saved['counted'] == 'training form'
    assert saved['rows'] == [r.to_dict() for r in rows]
    assert saved['rows'][2]['kernel_params_per_channel'] == 21 ** 2


def test_default_config_is_convnext_t(capsys):
    """The default model is ConvNeXt-T: at K=7 its dense form has
    ConvNeXt-T's 28,589,128 parameters plus, per layer, lkmm's 5x5 branch
    and two BNs (25 + 4 per channel) instead of the 7x7 conv's bias (1)."""
    rows = run_kernel_scaling(parse_kernel_scaling_args(
        ['--kernels', '7', '--forms', 'dense']))
    layer_channels = 3 * 96 + 3 * 192 + 9 * 384 + 3 * 768
    assert rows[0].params == 28_589_128 + 28 * layer_channels
    assert 'convnext-31-t' in capsys.readouterr().out


def test_bad_options_exit_with_a_message(tiny_config, tmp_path):
    with pytest.raises(SystemExit, match='--forms takes names among '
                       'dense, stripe, peripheral, peripheral\\+pe'):
        kernel_scaling_main([tiny_config, '--forms', 'dense,sparse'])
    with pytest.raises(SystemExit, match='--kernels must be odd'):
        kernel_scaling_main([tiny_config, '--kernels', '7,10'])
    with pytest.raises(SystemExit, match='--centre-size'):
        kernel_scaling_main([tiny_config, '--centre-size', '0'])
    with pytest.raises(SystemExit, match='not_there.py'):
        kernel_scaling_main([str(tmp_path / 'not_there.py')])
    with pytest.raises(SystemExit, match='lkmm.LargeKernelConvNeXt'):
        kernel_scaling_main(['mmpretrain::resnet/resnet18_8xb32_in1k.py',
                             '--kernels', '7'])


@pytest.mark.slow
def test_tool_script(tiny_config):
    """The thin script runs (a fresh interpreter importing lkmm: ~9 s)."""
    out = subprocess.run(
        [sys.executable, 'tools/analysis/kernel_scaling.py', tiny_config,
         '--kernels', '9', '--forms', 'stripe'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert '| 9 |' in out and '| 90 |' in out
