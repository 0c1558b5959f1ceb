"""tools/analysis/get_flops.py on lkmm and stock configs."""
import os.path as osp
import re

import pytest

import lkmm  # noqa: F401
from lkmm.analysis.complexity import config_input_shape
from lkmm.cli.get_flops import (
    get_flops_main,
    parse_get_flops_args,
    run_get_flops,
)
from lkmm.engine.runner import load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _figures(text):
    params = float(re.search(r'Params: ([\d.]+)M', text).group(1))
    flops = re.search(r'FLOPs: ([\d.]+)([GM])', text)
    scale = 1 if flops.group(2) == 'G' else 1e-3
    return params, float(flops.group(1)) * scale


def test_get_flops_tool_on_demo_config(tools):
    proc = tools.run([tools.python, 'tools/analysis/get_flops.py',
                      tools.demo_config, '--shape', '128', '96'])
    assert 'Input shape: 3x128x96 (from --shape)' in proc.stdout
    assert 'deploy form' in proc.stdout
    # Measured: 493300 params, 60997504 FLOPs (printed rounded).
    assert _figures(proc.stdout) == (0.49, 0.06)


def test_inference_form_drops_aux_head_and_folds(tools, capsys):
    deployed = run_get_flops(parse_get_flops_args(
        [tools.demo_config, '--shape', '64']))
    train = run_get_flops(parse_get_flops_args(
        [tools.demo_config, '--shape', '64', '--train-form']))
    assert deployed['shape'] == (64, 64)
    assert (deployed['params'], deployed['flops']) == (493300, 20471168)
    # What the deploy form drops, counted on the model itself: the
    # auxiliary head, and per large-kernel conv the small-kernel branch and
    # the large kernel's BN, for one new bias per channel.
    from mmengine.config import Config

    from lkmm.engine.runner import build_model_from_cfg
    from lkmm.layers import ReparamLargeKernelConv
    model = build_model_from_cfg(Config.fromfile(tools.demo_config))

    def count(module):
        return sum(p.numel() for p in module.parameters())

    folded = [m for m in model.modules()
              if isinstance(m, ReparamLargeKernelConv)]
    assert len(folded) == 5
    dropped = count(model.auxiliary_head) + sum(
        count(m.small_conv) + count(m.large_conv.bn) - m.channels
        for m in folded)
    assert train['params'] - deployed['params'] == dropped == 17828


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
    result = run_get_flops(parse_get_flops_args(
        ['mmpretrain::resnet/resnet18_8xb32_in1k.py']))
    assert result['params'] == pytest.approx(11.69e6, rel=0.01)
    assert result['flops'] == pytest.approx(1.82e9, rel=0.02)
    with pytest.raises(SystemExit, match='--shape'):
        get_flops_main(['mmpretrain::resnet/resnet18_8xb32_in1k.py',
                        '--shape', '1', '2', '3'])
    with pytest.raises(FileNotFoundError, match='mmpretrain::nope/x.py'):
        get_flops_main(['mmpretrain::nope/x.py'])


# ------------------------------------------------------- --sparse (SLaK)
def tiny_pelk_config(tmp_path, init='snip'):
    """PeLK-T's config (its DynamicSparsityHook) with a tiny backbone."""
    path = tmp_path / 'tiny_pelk.py'
    base = osp.join(REPO, 'configs', 'pelk', 'pelk-t_32xb128-300e_in1k.py')
    path.write_text(
        f'_base_ = [{base!r}]\n'
        "model = dict(backbone=dict(arch=dict(_delete_=True, "
        "depths=[1, 1, 1, 1], "
        "channels=[8, 8, 16, 16], kernel_sizes=[9, 7, 7, 5], "
        "form='peripheral', partial_ratio=0.5, pos_embed=True, "
        "centre_size=3)), head=dict(in_channels=16, num_classes=10))\n"
        'data_preprocessor = dict(num_classes=10)\n')
    return str(path)


@pytest.mark.parametrize('init', ['snip', 'uniform'])
def test_sparse_counts_nonzero_weights(tmp_path, capsys, init):
    config = tiny_pelk_config(tmp_path)
    dense = run_get_flops(parse_get_flops_args(
        [config, '--shape', '64', '--train-form']))
    result = run_get_flops(parse_get_flops_args(
        [config, '--shape', '64', '--sparse', '--sparse-init', init]))
    out = capsys.readouterr().out
    assert 'sparse: 0.4 of the selected weights' in out
    assert result['params'] == dense['params']
    assert result['flops'] == dense['flops']
    # 40% of the >= 2-D weights are zero: fewer non-zero params and FLOPs.
    assert 0.55 * dense['params'] < result['nonzero_params'] \
        < 0.75 * dense['params']
    assert 0.5 * dense['flops'] < result['sparse_flops'] < 0.8 * dense['flops']
    assert re.search(r'Params: [\d.]+M non-zero of [\d.]+M', out)
    if init == 'uniform':
        # Every sparsified layer keeps exactly round(0.6 n) of its n
        # weights; a peripheral conv's materialized kernel is counted
        # instead (a shared weight is a whole cell of taps): about 60%.
        from mmengine.config import Config

        from lkmm.engine.runner import build_model_from_cfg
        modules = dict(build_model_from_cfg(
            Config.fromfile(config)).named_modules())
        assert len(result['module_density']) == 24
        for name, density in result['module_density'].items():
            if name.endswith('large_conv.conv'):
                assert density == pytest.approx(0.6, abs=0.015), name
                continue
            n = modules[name[len('model.'):]].weight.numel()
            assert density == round(0.6 * n) / n, name


def test_sparse_checkpoint_is_counted_as_it_is(tmp_path):
    import torch
    from mmengine.config import Config

    from lkmm.engine.runner import build_model_from_cfg
    config = tiny_pelk_config(tmp_path)
    model = build_model_from_cfg(Config.fromfile(config))
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(1.)
        model.head.fc.weight.zero_()
    ckpt = tmp_path / 'sparse.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    result = run_get_flops(parse_get_flops_args(
        [config, '--shape', '32', '--sparse', '--checkpoint', str(ckpt)]))
    assert result['nonzero_params'] == \
        result['params'] - model.head.fc.weight.numel()
    assert result['module_density'] == {'model.head.fc': 0.0}


def test_sparse_errors(tmp_path, tools):
    with pytest.raises(SystemExit, match='DynamicSparsityHook'):
        get_flops_main([tools.demo_config, '--shape', '64', '--sparse'])
    with pytest.raises(SystemExit, match='--sparse-init needs --sparse'):
        get_flops_main([tools.demo_config, '--sparse-init', 'uniform'])
    with pytest.raises(SystemExit):  # argparse names the allowed values
        get_flops_main([tools.demo_config, '--sparse', '--sparse-init', 'x'])
    config = tiny_pelk_config(tmp_path)
    with pytest.raises(SystemExit, match='give one of them'):
        get_flops_main([config, '--sparse', '--sparse-init', 'uniform',
                        '--checkpoint', 'x.pth'])
