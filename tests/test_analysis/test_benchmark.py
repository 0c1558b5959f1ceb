"""lkmm.analysis.benchmark: timing of the training and deployed forms.

Timings themselves are never asserted (machines differ and are shared); the
tests check the bookkeeping, the deployed structure and the errors.
"""
import os.path as osp

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from lkmm.analysis import (
    BenchmarkResult,
    TrainDeployComparison,
    benchmark_model,
    compare_train_vs_deploy,
    format_benchmark_table,
    to_deploy_form,
)
from lkmm.cli.benchmark import (
    benchmark_main,
    parse_benchmark_args,
    run_benchmark,
)
from lkmm.models import RepLKNet
from lkmm.utils.device import resolve_device

TINY = dict(channels=[8, 16, 24, 32], layers=[1, 1, 1, 1],
            kernel_sizes=[13, 11, 9, 7], small_kernel=3)
SHAPE = (3, 32, 32)
DEMO = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'configs', 'demo', 'upernet_replknet-tiny_shapes.py')
no_cuda = pytest.mark.skipif(torch.cuda.is_available(),
                             reason='checks the error without CUDA')


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a small shared machine, more threads than
    free cores make tiny convolutions orders of magnitude slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _randomize_bn(model, seed=0):
    """Non-trivial BN statistics, so that merging them is really tested."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return model


@pytest.fixture
def backbone():
    return _randomize_bn(RepLKNet(arch=TINY, out_indices=(1, 3)))


def _check_result(result, name, iters, batch_size=2):
    assert isinstance(result, BenchmarkResult)
    assert result.name == name and result.device == 'cpu'
    assert result.iters == iters and len(result.times_ms) == iters
    assert result.batch_size == batch_size
    assert result.input_shape == SHAPE
    for value in (result.median_ms, result.mean_ms, result.images_per_s,
                  result.params):
        assert value > 0
    stats = result.to_dict()
    assert {'images_per_s', 'median_ms', 'mean_ms', 'iters'} <= set(stats)


def test_compare_train_vs_deploy_backbone(backbone):
    result = compare_train_vs_deploy(
        backbone, input_shape=SHAPE, batch_size=2, warmup=1, iters=3,
        rounds=2, device='cpu')
    assert isinstance(result, TrainDeployComparison)
    _check_result(result.train, 'train', 3)
    _check_result(result.deploy, 'deploy', 3)
    assert result.speed_ratio > 0
    assert result.max_abs_diff < 1e-4
    # Deployment removes the small kernels and the BNs of the large ones.
    assert result.deploy.params < result.train.params
    assert set(result.to_dict()) == {'train', 'deploy', 'max_abs_diff',
                                     'speed_ratio'}
    # The caller's model is left as it was: training structure and mode.
    assert backbone.training
    assert all(not m.deployed for m in backbone.modules()
               if hasattr(m, 'deployed'))

    table = format_benchmark_table(result)
    for text in ('train', 'deploy', 'images/s', 'ms/batch (median)',
                 'speed ratio deploy/train'):
        assert text in table


def test_deployed_form_equals_train_form_and_is_folded(backbone):
    backbone.eval()
    deployed = to_deploy_form(backbone)
    names = [name for name, _ in deployed.named_modules()]
    assert not [n for n in names if n.endswith(('large_conv', 'small_conv'))]
    assert sum(n.endswith('fused_conv') for n in names) == 4
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        for a, b in zip(backbone(x), deployed(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_benchmark_model_backbone_restores_mode(backbone):
    result = benchmark_model(backbone, input_shape=SHAPE, batch_size=2,
                             warmup=1, iters=2, device='cpu', name='lk')
    _check_result(result, 'lk', 2)
    assert backbone.training  # put back in training mode afterwards


def test_benchmark_openmmlab_classifier():
    """An mmpretrain model is called with mode='tensor'."""
    from mmengine.config import Config

    from lkmm.engine.runner import build_model_from_cfg
    model = build_model_from_cfg(Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='lkmm.RepLKNet', arch=TINY),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=5,
                      in_channels=32)))))
    _randomize_bn(model)
    result = compare_train_vs_deploy(model, input_shape=SHAPE, batch_size=2,
                                     warmup=0, iters=2, device='cpu')
    _check_result(result.train, 'train', 2)
    _check_result(result.deploy, 'deploy', 2)
    assert result.max_abs_diff < 1e-4
    assert 'batch 2 x 3x32x32 on cpu' in format_benchmark_table(
        [result.train, result.deploy])


def test_invalid_counts(backbone):
    with pytest.raises(ValueError, match='iters'):
        benchmark_model(backbone, input_shape=SHAPE, iters=0, device='cpu')
    with pytest.raises(ValueError, match='input_shape'):
        benchmark_model(backbone, input_shape=(32, 32), device='cpu')


@no_cuda
def test_cuda_request_without_cuda(backbone):
    assert resolve_device(None) == torch.device('cpu')
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        benchmark_model(backbone, input_shape=SHAPE, device='cuda')
    with pytest.raises(RuntimeError, match='--device cpu'):
        compare_train_vs_deploy(backbone, input_shape=SHAPE, device='cuda')
    # The command line reports it as a usage error before building anything.
    with pytest.raises(SystemExit, match='CUDA is not available'):
        benchmark_main([DEMO, '--device', 'cuda'])


# --------------------------------------------------------------------------
# nn.Conv2d vs lkmm depth-wise convolutions (``--compare dwconv``)

BIG_KERNELS = dict(channels=[8, 16, 16, 16], layers=[1, 1, 1, 1],
                   kernel_sizes=[31, 21, 13, 7], small_kernel=5)


@pytest.mark.parametrize('mode', ['train', 'deploy'])
def test_compare_dwconv_impls(mode, monkeypatch):
    import lkmm.ops.depthwise_conv as dw
    from lkmm.analysis.benchmark import (
        DWConvComparison,
        compare_dwconv_impls,
        format_dwconv_comparison,
    )
    # Seeded weights: the FFT's rounding differs from model to model (up to
    # 1.2e-4 over 12 seeds in train mode), so an unseeded model made the
    # test depend on what ran before it.
    torch.manual_seed(0)
    model = _randomize_bn(RepLKNet(arch=BIG_KERNELS, out_indices=(3, )))
    # Record which implementation every depth-wise call ran with.
    seen = []
    original = dw.plan_depthwise_conv

    def spy(*args, **kwargs):
        plan = original(*args, **kwargs)
        seen.append((dw.get_depthwise_conv_impl(), plan['forward']))
        return plan

    monkeypatch.setattr(dw, 'plan_depthwise_conv', spy)
    result = compare_dwconv_impls(model, input_shape=(3, 64, 64),
                                  batch_size=2, warmup=1, iters=2,
                                  device='cpu', mode=mode)
    assert isinstance(result, DWConvComparison) and result.mode == mode
    assert result.torch.name == 'nn.Conv2d' and result.lkmm.name == 'lkmm'
    assert result.torch.iters == result.lkmm.iters == 2
    assert result.speed_ratio > 0
    # Same outputs (and gradients in train mode) either way: measured
    # 3.7e-5 (train) and 8.5e-8 (deploy) for this seed.
    assert result.max_rel_diff < (1e-4 if mode == 'train' else 1e-6)
    # Both paths really ran, and lkmm's used the FFT for the 31x31 layers.
    assert ('torch', 'torch') in seen and ('auto', 'fft') in seen
    text = format_dwconv_comparison(result)
    assert 'speed ratio lkmm/nn.Conv2d' in text
    assert ('forward+backward' in text) == (mode == 'train')
    # The model passed in is untouched.
    assert all(p.grad is None for p in model.parameters())


def test_compare_dwconv_bad_mode(backbone):
    from lkmm.analysis.benchmark import compare_dwconv_impls
    with pytest.raises(ValueError, match="mode must be one of.*'train'"):
        compare_dwconv_impls(backbone, input_shape=SHAPE, mode='inference')


def test_benchmark_cli_compare_dwconv(capsys):
    from lkmm.analysis.benchmark import DWConvComparison
    result = run_benchmark(parse_benchmark_args(
        [DEMO, '--compare', 'dwconv', '--iters', '1', '--warmup', '0',
         '--shape', '32', '32']))
    assert isinstance(result, DWConvComparison) and result.mode == 'train'
    assert 'speed ratio lkmm/nn.Conv2d' in capsys.readouterr().out


def test_benchmark_cli_breakdown(capsys):
    """``--compare breakdown`` on the demo segmentor: both forms profiled,
    the table printed, the deployed form without BN branches to train."""
    from lkmm.analysis.breakdown import CATEGORIES, DW_LARGE
    deploy, train = run_benchmark(parse_benchmark_args(
        [DEMO, '--compare', 'breakdown', '--steps', '1', '--shape', '32',
         '32']))
    assert (deploy.name, train.name) == ('deploy', 'train')
    assert set(deploy.ms) == set(train.ms) == set(CATEGORIES)
    # A RepLKNet spends time in its large kernels in both forms, and a
    # training step costs more than an inference.
    assert deploy.ms[DW_LARGE] > 0 and train.ms[DW_LARGE] > 0
    assert train.total_ms > deploy.total_ms
    out = capsys.readouterr().out
    assert 'deploy ms' in out and 'train ms' in out and 'pointwise' in out
    with pytest.raises(SystemExit, match='--steps must be >= 1'):
        run_benchmark(parse_benchmark_args(
            [DEMO, '--compare', 'breakdown', '--steps', '0']))
