"""Two models side by side: lkmm.analysis.benchmark.compare_models and
``tools/analysis/benchmark.py CONFIG --against OTHER``.

Timings are never asserted; the tests check that both models are the ones
asked for, that they run interleaved on the same batch, and the ratio's
bookkeeping.
"""
import os.path as osp

import pytest
import torch

from lkmm.analysis.benchmark import (
    ModelComparison,
    build_timm_model,
    compare_models,
    format_benchmark_table,
)
from lkmm.analysis.complexity import to_deploy_form
from lkmm.cli.benchmark import (
    benchmark_main,
    parse_benchmark_args,
    run_benchmark,
)
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.models import LargeKernelConvNeXt, RepLKNet

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'upernet_replknet-tiny_shapes.py')
SHAPE = (3, 32, 32)
TINY_REPLK = dict(channels=[8, 16, 24, 32], layers=[1, 1, 1, 1],
                  kernel_sizes=[13, 11, 9, 7], small_kernel=3)
TINY_SLAK = dict(depths=[1, 1, 1, 1], channels=[8, 8, 16, 16],
                 kernel_sizes=[13, 11, 9, 7], form='stripe')
TINY_CLASSIFIER = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='lkmm.LargeKernelConvNeXt', arch=dict(
        depths=[1, 1, 1, 1], channels=[8, 8, 16, 16],
        kernel_sizes=[13, 11, 9, 7], form='peripheral', centre_size=3)),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=16))
"""


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread (tiny convolutions on a shared machine)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _numel(model):
    return sum(p.numel() for p in model.parameters())


def test_compare_models_times_both_interleaved():
    replk, slak = RepLKNet(arch=TINY_REPLK), LargeKernelConvNeXt(
        arch=TINY_SLAK)
    calls = []
    # Hooks are functions: the deep copies compare_models runs keep them,
    # so the log sees the copies' forwards.
    replk.register_forward_hook(lambda *_: calls.append('A'))
    slak.register_forward_hook(lambda *_: calls.append('B'))
    result = compare_models(replk, slak, input_shape=SHAPE, batch_size=3,
                            warmup=2, iters=4, rounds=2, device='cpu',
                            names=('replk', 'slak'))
    assert isinstance(result, ModelComparison)
    assert (result.first.name, result.second.name) == ('replk', 'slak')
    # One untimed forward each, then rounds alternating the order:
    # warm-up (A B)(B A), timed (A A B B)(B B A A).
    assert ''.join(calls) == 'AB' + 'AB' + 'BA' + 'AABB' + 'BBAA'
    for r in (result.first, result.second):
        assert r.iters == 4 and r.warmup == 2 and r.device == 'cpu'
        assert r.batch_size == 3 and r.input_shape == SHAPE
    assert result.speed_ratio == \
        result.first.images_per_s / result.second.images_per_s
    # Each result is its own model, in inference (deployed) form.
    assert result.first.params == _numel(to_deploy_form(replk))
    assert result.second.params == _numel(to_deploy_form(slak))
    assert result.first.params != result.second.params
    assert result.first.params < _numel(replk)  # deployed
    # The models passed in are untouched.
    assert replk.training and not any(
        getattr(m, 'deployed', False) for m in replk.modules())
    assert result.deployed
    assert set(result.to_dict()) == {'first', 'second', 'deployed',
                                     'speed_ratio'}

    table = format_benchmark_table(result)
    lines = table.splitlines()
    assert lines[2].split()[0] == 'model' and lines[2].endswith('vs slak')
    assert lines[4].startswith('replk') and lines[5].startswith('slak')
    assert lines[5].endswith('1.00x')
    assert lines[-1].startswith(
        f'speed ratio replk / slak: {result.speed_ratio:.2f}x')
    # The ratio of the fastest batches too (robust on a shared machine).
    assert result.first.min_ms == min(result.first.times_ms)
    assert result.first.to_dict()['min_ms'] == result.first.min_ms
    best = result.second.min_ms / result.first.min_ms
    assert lines[-1].endswith(f'from the fastest batches: {best:.2f}x')
    assert lines[4].split()[-2] == f'{result.first.min_ms:.2f}'


def test_compare_models_unfolded():
    """deploy=False times the models as built: SLaK's stripes, RepLKNet's
    small branches and BNs stay."""
    replk, slak = RepLKNet(arch=TINY_REPLK), LargeKernelConvNeXt(
        arch=TINY_SLAK)
    result = compare_models(replk, slak, input_shape=SHAPE, batch_size=2,
                            warmup=0, iters=1, device='cpu', deploy=False)
    assert not result.deployed and result.to_dict()['deployed'] is False
    assert result.first.params == _numel(replk)
    assert result.second.params == _numel(slak)
    assert 'both in training structure, eval)' in \
        format_benchmark_table(result)


def test_compare_models_needs_two_names():
    model = RepLKNet(arch=TINY_REPLK)
    with pytest.raises(ValueError, match='two different labels'):
        compare_models(model, model, input_shape=SHAPE, iters=1,
                       device='cpu', names=('a', 'a'))


def test_build_timm_model():
    import timm
    model = build_timm_model('resnet10t')
    assert _numel(model) == _numel(timm.create_model('resnet10t'))
    with pytest.raises(ValueError, match="no model named 'swin_base_patch4"
                       "_window7'; close names: swin_base_patch4_window7_224"):
        build_timm_model('swin_base_patch4_window7')


def test_cli_against_timm(capsys):
    import timm
    result = run_benchmark(parse_benchmark_args(
        [DEMO, '--against', 'timm:resnet10t', '--shape', '32', '32',
         '--warmup', '0', '--iters', '1']))
    assert isinstance(result, ModelComparison)
    assert result.first.name == 'upernet_replknet-tiny_shapes'
    assert result.second.name == 'timm:resnet10t'
    assert result.second.params == _numel(timm.create_model('resnet10t'))
    demo = build_model_from_cfg(load_config(DEMO))
    assert result.first.params == _numel(to_deploy_form(demo))
    for r in (result.first, result.second):
        assert r.batch_size == 1 and r.input_shape == SHAPE
    out = capsys.readouterr().out
    assert 'building timm model resnet10t' in out
    assert 'speed ratio upernet_replknet-tiny_shapes / timm:resnet10t' in out


def test_cli_against_train_form(capsys):
    result = run_benchmark(parse_benchmark_args(
        [DEMO, '--against', 'timm:resnet10t', '--shape', '32', '32',
         '--warmup', '0', '--iters', '1', '--train-form']))
    assert not result.deployed
    demo = build_model_from_cfg(load_config(DEMO))
    assert result.first.params == _numel(demo)  # not deployed
    assert 'in training structure (eval) on cpu' in capsys.readouterr().out


def test_cli_against_a_config(tmp_path, capsys):
    other = tmp_path / 'tiny_pelk.py'
    other.write_text(TINY_CLASSIFIER)
    result = run_benchmark(parse_benchmark_args(
        [DEMO, '--against', str(other), '--warmup', '0', '--iters', '1',
         '--batch-size', '2']))
    assert result.second.name == 'tiny_pelk'
    assert result.second.params == _numel(to_deploy_form(
        build_model_from_cfg(load_config(str(other)))))
    assert result.first.params != result.second.params
    # Both at the first config's size (the demo's test pipeline).
    assert result.first.input_shape == result.second.input_shape
    assert result.first.batch_size == result.second.batch_size == 2
    assert 'note: tiny_pelk defaults to 224x224' in capsys.readouterr().out
    # The same config twice still gives two labels.
    twice = run_benchmark(parse_benchmark_args(
        [str(other), '--against', str(other), '--shape', '32', '32',
         '--warmup', '0', '--iters', '1']))
    assert twice.second.name == 'tiny_pelk (against)'
    assert twice.first.params == twice.second.params


def test_cli_against_errors(tmp_path):
    with pytest.raises(SystemExit, match="timm has no model named "
                       "'not_a_model_xyz'"):
        benchmark_main([DEMO, '--against', 'timm:not_a_model_xyz'])
    with pytest.raises(SystemExit, match='needs a model name'):
        benchmark_main([DEMO, '--against', 'timm:'])
    with pytest.raises(SystemExit, match='--against takes a config file or '
                       'timm:NAME.*missing_other.py'):
        benchmark_main([DEMO, '--against', str(tmp_path / 'missing_other.py')])
    with pytest.raises(SystemExit, match='--train-form applies to '
                       '--against'):
        benchmark_main([DEMO, '--train-form'])
    with pytest.raises(SystemExit, match='does not combine with --compare '
                       'dwconv'):
        benchmark_main([DEMO, '--against', 'timm:resnet10t', '--compare',
                        'dwconv'])
