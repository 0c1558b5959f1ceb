"""tools/deploy/export_onnx.py on the classification demo config, with a
random checkpoint (random weights and BN statistics) saved by the test."""
import os
import os.path as osp
import subprocess
import sys

import onnxruntime as ort
import pytest
import torch
from mmengine.runner import save_checkpoint

import lkmm  # noqa: F401  (registers lkmm)
from lkmm.engine.runner import build_model_from_cfg, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo', 'replknet-tiny_shapes-cls.py')


def _run(args):
    # Tools import lkmm from this checkout; one OpenMP thread (small
    # shared machine).
    path = os.environ.get('PYTHONPATH')
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1',
               PYTHONPATH=REPO + (os.pathsep + path if path else ''))
    return subprocess.run(
        [sys.executable, 'tools/deploy/export_onnx.py', *args], cwd=REPO,
        env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(checkpoint path, model in eval mode) with random weights."""
    torch.manual_seed(0)
    model = build_model_from_cfg(load_config(CONFIG))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) /
                        p[0].numel() ** .5)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
    path = str(tmp_path_factory.mktemp('cls') / 'epoch_30.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), path)
    return path, model.eval()


def test_export_onnx_tool(trained, tmp_path):
    ckpt, model = trained
    out = str(tmp_path / 'onnx' / 'replknet-tiny.onnx')
    proc = _run([CONFIG, ckpt, out, '--shape', '64', '64', '--dynamic',
                 '--device', 'cpu', '--bench-warmup', '0',
                 '--bench-iters', '2'])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert os.listdir(osp.dirname(out)) == ['replknet-tiny.onnx']
    assert 'ratio onnxruntime/PyTorch' in log
    assert 'max relative difference to PyTorch' in log
    assert 'dynamic axes: batch' in log

    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model(x, mode='tensor')
    actual = torch.from_numpy(session.run(None, {'input': x.numpy()})[0])
    assert actual.shape == (3, 8)
    assert (expected[0] - expected[1]).abs().max() > \
        1e-2 * expected.abs().max()
    assert (expected - actual).abs().max() <= 1e-4 * expected.abs().max()


def test_wrong_checkpoint_exits_nonzero_and_writes_nothing(trained,
                                                           tmp_path):
    _, model = trained
    state_dict = model.state_dict()
    state_dict.pop('head.fc.bias')
    bad = str(tmp_path / 'bad.pth')
    save_checkpoint(dict(state_dict=state_dict), bad)
    out = tmp_path / 'model.onnx'
    proc = _run([CONFIG, bad, str(out), '--shape', '64', '64',
                 '--device', 'cpu', '--bench-iters', '0'])
    assert proc.returncode != 0
    assert 'export_onnx: checkpoint' in proc.stderr
    assert 'missing keys (1): head.fc.bias' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not out.exists()
