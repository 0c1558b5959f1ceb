"""tools/analysis/get_flops.py on lkmm and stock configs."""
import re

import pytest

import lkmm  # noqa: F401
from lkmm.analysis.complexity import config_input_shape
from lkmm.apis.get_flops import get_flops_main
from lkmm.apis.launch import load_config


def _figures(text):
    params = float(re.search(r'Params: ([\d.]+)M', text).group(1))
    flops = re.search(r'FLOPs: ([\d.]+)([GM])', text)
    scale = 1 if flops.group(2) == 'G' else 1e-3
    return params, float(flops.group(1)) * scale


def test_get_flops_tool_on_demo_config(tools):
    proc = tools.run([tools.python, 'tools/analysis/get_flops.py',
                      tools.demo_config, '--shape', '128', '96'])
    assert 'Input shape: 3x128x96 (from --shape)' in proc.stdout
    assert 'inference form' in proc.stdout
    params, gflops = _figures(proc.stdout)
    assert 0 < params < 1 and gflops > 0


def test_inference_form_drops_aux_head_and_folds(tools, capsys):
    deployed = get_flops_main([tools.demo_config, '--shape', '64'])
    train = get_flops_main([tools.demo_config, '--shape', '64',
                            '--train-form'])
    # The auxiliary head and the small kernels are training-only.
    assert deployed['params'] < train['params']
    assert deployed['shape'] == (64, 64)


def test_default_shape_comes_from_test_pipeline():
    cfg = load_config('configs/replknet/upernet_ade20k.py', work_dir='')
    assert config_input_shape(cfg) == ((512, 2048), 'test_pipeline')
    cfg = load_config('configs/replknet/replknet-31B_32xb64-300e_in1k.py',
                      work_dir='')
    assert config_input_shape(cfg)[0] == (224, 224)
    cfg = load_config(
        'configs/replknet/replknet-XL_megdata73m-pre_32xb16-30e_in1k-320px.py',
        work_dir='')
    assert config_input_shape(cfg)[0] == (320, 320)


def test_stock_config_path_and_bad_shape(capsys):
    result = get_flops_main(['mmpretrain::resnet/resnet18_8xb32_in1k.py'])
    assert result['params'] == pytest.approx(11.69e6, rel=0.01)
    assert result['flops'] == pytest.approx(1.82e9, rel=0.02)
    with pytest.raises(SystemExit, match='--shape'):
        get_flops_main(['mmpretrain::resnet/resnet18_8xb32_in1k.py',
                        '--shape', '1', '2', '3'])
    with pytest.raises(FileNotFoundError, match='mmpretrain::nope/x.py'):
        get_flops_main(['mmpretrain::nope/x.py'])
