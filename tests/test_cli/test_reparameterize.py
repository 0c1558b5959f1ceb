"""tools/deploy/reparameterize.py and tools/analysis/benchmark.py on the demo
config, with random weights and random BN statistics (no training)."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from torch.nn.modules.batchnorm import _BatchNorm

import lkmm  # noqa: F401  (safe checkpoint loading for torch.load below)
from lkmm.deploy import reparameterize as deploy_api
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.layers import ReparamLargeKernelConv

SHAPE = (3, 64, 64)
DEMO = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'configs', 'demo', 'upernet_replknet-tiny_shapes.py')


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a small shared machine, more threads than
    free cores make tiny convolutions orders of magnitude slower."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _env(tools):
    # Tools import lkmm from this checkout even where the editable install
    # points elsewhere.
    # One OpenMP thread, as in-process (see one_thread).
    path = os.environ.get('PYTHONPATH')
    return dict(PYTHONPATH=tools.repo + (os.pathsep + path if path else ''),
                OMP_NUM_THREADS='1')


def _build(config):
    return build_model_from_cfg(load_config(config)).eval()


def _outputs(model, x):
    with torch.no_grad():
        return model(x, mode='tensor')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Demo model with random weights and BN statistics, saved by mmengine.

    Returns:
        tuple: (checkpoint path, the model in eval mode).
    """
    torch.manual_seed(0)
    model = _build(DEMO)
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    path = str(tmp_path_factory.mktemp('train') / 'iter_600.pth')
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=['bg', 'disk']))), path)
    return path, model


def test_reparameterize_tool(tools, trained, tmp_path):
    ckpt, model = trained
    out = str(tmp_path / 'deployed' / 'replknet_deploy.pth')
    proc = tools.run(
        [tools.python, 'tools/deploy/reparameterize.py', tools.demo_config,
         ckpt, out, '--shape', '64', '64', '--batch-size', '1',
         '--device', 'cpu', '--bench-warmup', '0', '--bench-iters', '1'],
        env=_env(tools))
    log = proc.stdout + proc.stderr
    assert 'max abs diff' in log and 'speed ratio deploy/train' in log
    out_config = out[:-len('.pth')] + '.py'
    assert sorted(os.listdir(osp.dirname(out))) == [
        'replknet_deploy.pth', 'replknet_deploy.py'
    ]

    cfg = Config.fromfile(out_config)
    assert cfg.model.backbone.deploy is True
    assert cfg.model.backbone.get('init_cfg') is None
    deployed = build_model_from_cfg(cfg).eval()
    large = [m for m in deployed.modules()
             if isinstance(m, ReparamLargeKernelConv)]
    assert large and all(m.deployed for m in large)
    checkpoint = torch.load(out, map_location='cpu')
    assert checkpoint['meta']['deployed'] is True
    assert checkpoint['meta']['dataset_meta'] == dict(classes=['bg', 'disk'])
    state_dict = checkpoint['state_dict']
    assert not [k for k in state_dict if '.large_conv.' in k
                or '.small_conv.' in k]
    deployed.load_state_dict(state_dict, strict=True)

    x = torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(3))
    expected, actual = _outputs(model, x), _outputs(deployed, x)
    scale = expected.abs().max().item()
    assert (expected - actual).abs().max().item() <= 1e-4 * max(scale, 1.)


def test_wrong_keys_fail_naming_them_and_write_nothing(trained, tmp_path):
    ckpt, model = trained
    state_dict = model.state_dict()
    state_dict.pop('decode_head.conv_seg.bias')
    state_dict['backbone.not_a_layer.weight'] = torch.zeros(1)
    bad = str(tmp_path / 'bad.pth')
    save_checkpoint(dict(state_dict=state_dict), bad)
    out = str(tmp_path / 'out' / 'deployed.pth')
    with pytest.raises(deploy_api.CheckpointMismatchError) as info:
        deploy_api.reparameterize_checkpoint(
            DEMO, bad, out, input_shape=SHAPE, device='cpu',
            bench_iters=0)
    message = str(info.value)
    assert 'missing keys (1): decode_head.conv_seg.bias' in message
    assert 'unexpected keys (1): backbone.not_a_layer.weight' in message
    assert not osp.exists(out) and not osp.exists(out[:-4] + '.py')


def test_failed_verification_leaves_no_partial_files(trained, tmp_path,
                                                     monkeypatch):
    """Written files that do not rebuild the deployed model are discarded;
    an existing OUT stays untouched."""
    ckpt, _ = trained
    out = tmp_path / 'deployed.pth'
    out.write_bytes(b'old')
    # Without the declaration the written config builds the training-form
    # backbone.
    from lkmm.models import RepLKNet
    monkeypatch.setattr(RepLKNet, 'deploy_arg', None)
    with pytest.raises(deploy_api.DeployVerificationError,
                       match=r"deploy-form argument.*'RepLKNet \(None\)"):
        deploy_api.reparameterize_checkpoint(
            DEMO, ckpt, str(out), input_shape=SHAPE,
            batch_size=1, device='cpu', bench_iters=0)
    assert sorted(os.listdir(tmp_path)) == ['deployed.pth']
    assert out.read_bytes() == b'old'


def test_benchmark_tool_prints_table(tools):
    proc = tools.run(
        [tools.python, 'tools/analysis/benchmark.py', tools.demo_config,
         '--shape', '32', '32', '--batch-size', '1', '--warmup', '0',
         '--iters', '2', '--device', 'cpu', '--threads', '1'],
        env=_env(tools))
    for text in ('images/s', 'ms/batch (median)', 'speed ratio deploy/train',
                 'batch 1 x 3x32x32 on cpu'):
        assert text in proc.stdout
    rows = [line.split() for line in proc.stdout.splitlines()
            if line.startswith(('train ', 'deploy '))]
    assert [row[0] for row in rows] == ['train', 'deploy']



# One classifier and one UperNet config of every family; the tool reads the
# deploy-form argument each backbone declares (lkmm.models.deploy).
FAMILY_CONFIGS = [
    'replknet/replknet-31B_32xb64-300e_in1k.py',
    'replknet/upernet_ade20k.py',
    'pelk/pelk-t_no-sparsity_32xb128-120e_in1k.py',
    'pelk/upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py',
    pytest.param('pelk/slak-t_no-sparsity-w1x_32xb128-120e_in1k.py',
                 marks=pytest.mark.heavy),
    pytest.param('pelk/upernet_convnext-31-t_in1k-pre_8xb2-80k_ade20k-'
                 '512x512.py', marks=pytest.mark.heavy),
    'parcnetv2/parcnetv2-26m_8xb128-300e_in1k.py',
    'parcnetv2/upernet_parcnetv2-26m_in1k-pre_8xb2-amp-160k_ade20k-'
    '512x512.py',
]


@pytest.mark.parametrize('config', FAMILY_CONFIGS)
def test_reparameterize_every_family(config, tools, tmp_path, randomize_bn):
    from lkmm.cli.reparameterize import (
        parse_reparameterize_args,
        run_reparameterize,
    )
    config = osp.join(tools.repo, 'configs', config)
    torch.manual_seed(0)
    model = randomize_bn(_build(config))
    ckpt = str(tmp_path / 'trained.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = str(tmp_path / 'deployed.pth')
    result = run_reparameterize(parse_reparameterize_args(
        [config, ckpt, out, '--shape', '64', '64', '--batch-size', '1',
         '--device', 'cpu', '--bench-iters', '0']))
    assert result['relative_diff'] < 1e-5
    cfg = Config.fromfile(out[:-len('.pth')] + '.py')
    backbone = cfg.model.backbone
    folds = not backbone.type.endswith('ParCNetV2')
    assert ('model.backbone.deploy=True' in result['changes']) == folds
    assert backbone.get('deploy', False) is folds
    deployed = build_model_from_cfg(cfg)
    deploy_api.load_state_dict_strictly(deployed, out)
    foldable = [m for m in deployed.modules() if hasattr(m, 'deployed')]
    assert bool(foldable) == folds and all(m.deployed for m in foldable)
