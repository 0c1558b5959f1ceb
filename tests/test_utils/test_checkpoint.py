"""Tests for lkmm.utils.checkpoint: mmengine checkpoints load with
weights_only=True, malicious pickles are refused through every entry point."""
import os
import pickle
import uuid
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner, load_checkpoint
from mmengine.runner import checkpoint as mmckpt
from mmengine.utils import digit_version
from torch import nn
from torch.utils.data import Dataset

from lkmm.utils.checkpoint import (
    UnsafeCheckpointError,
    register_safe_checkpoint_loading,
    safe_load,
)

TORCH_DEFAULTS_TO_WEIGHTS_ONLY = digit_version(
    torch.__version__) >= digit_version('2.6.0')


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(torch.stack(inputs)).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - torch.stack(labels))**2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), i / 8), labels=torch.tensor(1.))


class IterRecorder(Hook):

    def __init__(self):
        self.iters = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters.append(runner.iter)


class Evil:
    """Pickles as ``os.system(cmd)`` (``posix.system`` on Linux)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return os.system, (self.cmd, )


def make_runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        # unique: Runner shares MMLogger/MessageHub instances by this name
        experiment_name=f'toy_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=100),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        **kwargs)


@pytest.fixture(scope='module', autouse=True)
def safe_loading():
    register_safe_checkpoint_loading()
    register_safe_checkpoint_loading()  # idempotent


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    make_runner(work_dir, max_iters=4).train()
    return str(work_dir / 'iter_4.pth')


@pytest.fixture
def evil_ckpt(tmp_path):
    pwned = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': Evil(f'touch {pwned}')}, path)
    yield str(path)
    assert not pwned.exists(), 'the malicious pickle ran code'


@pytest.fixture
def fake_model_zoo(monkeypatch, tmp_path, runner_ckpt, evil_ckpt):
    # Offline stand-ins for the torchvision / open-mmlab / mmcls model lists:
    # file:// URLs go through the real torch.hub download + cache path.
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    urls = dict(good=Path(runner_ckpt).as_uri(), evil=Path(evil_ckpt).as_uri())
    for getter in ('get_torchvision_models', 'get_mmcls_models'):
        monkeypatch.setattr(mmckpt, getter, lambda: urls)
    # a non-URL entry is a path (here absolute) under the mmengine home
    monkeypatch.setattr(mmckpt, 'get_external_models',
                        lambda: dict(good=runner_ckpt, evil=evil_ckpt))


def test_mmengine_checkpoint_needs_allowlist(runner_ckpt):
    # What this module fixes: the Runner checkpoint holds non-tensor objects.
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint
    registered = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        names = unsafe(runner_ckpt)
    finally:
        torch.serialization.add_safe_globals(registered)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    assert unsafe(runner_ckpt) == []


def test_every_mmengine_scheme_is_overridden():
    assert CheckpointLoader._schemes
    for prefix, loader in CheckpointLoader._schemes.items():
        assert loader.__module__ == safe_load.__module__, prefix


def test_load_runner_checkpoint(runner_ckpt):
    ckpt = CheckpointLoader.load_checkpoint(runner_ckpt)
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert type(buf).__name__ == 'HistoryBuffer'
    assert len(buf.data[0]) == 4 and buf.mean() > 0
    assert ckpt['meta']['iter'] == 4

    model = ToyModel()
    load_checkpoint(model, runner_ckpt)
    torch.testing.assert_close(model.state_dict(), ckpt['state_dict'])
    assert mmckpt._load_checkpoint(runner_ckpt)['meta']['iter'] == 4

    plain = torch.load(runner_ckpt)  # torch's default, after registration
    assert plain['meta']['iter'] == 4


@pytest.mark.parametrize('scheme',
                         ['torchvision://', 'open-mmlab://', 'mmcls://'])
def test_model_zoo_schemes(fake_model_zoo, scheme):
    ckpt = CheckpointLoader.load_checkpoint(scheme + 'good')
    # mmcls:// keeps only (renamed) 'backbone.*' weights; the toy has none
    assert list(ckpt['state_dict']) == ([] if scheme == 'mmcls://' else
                                        ['linear.weight', 'linear.bias'])
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        CheckpointLoader.load_checkpoint(scheme + 'evil')


def test_runner_resume(runner_ckpt, tmp_path):
    recorder = IterRecorder()
    runner = make_runner(
        tmp_path, max_iters=6, load_from=runner_ckpt, resume=True,
        custom_hooks=[recorder])
    runner.train()
    assert recorder.iters == [4, 5]
    assert runner.iter == 6
    # the resumed message hub kept the 4 logged losses from the checkpoint
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 6


def test_runner_load_from(runner_ckpt, tmp_path):
    runner = make_runner(tmp_path, max_iters=1, load_from=runner_ckpt)
    runner.train()
    assert runner.iter == 1  # weights only, training restarts


@pytest.mark.parametrize('api', [
    'safe_load', 'CheckpointLoader', '_load_checkpoint', 'load_checkpoint',
    'Runner.resume', 'Runner.load_from'
])
def test_malicious_checkpoint_is_refused(evil_ckpt, tmp_path, api):
    with pytest.raises(UnsafeCheckpointError) as info:
        if api == 'safe_load':
            safe_load(evil_ckpt)
        elif api == 'CheckpointLoader':
            CheckpointLoader.load_checkpoint(evil_ckpt)
        elif api == '_load_checkpoint':
            mmckpt._load_checkpoint(evil_ckpt)
        elif api == 'load_checkpoint':
            load_checkpoint(ToyModel(), evil_ckpt)
        else:
            make_runner(
                tmp_path / 'wd', max_iters=1, load_from=evil_ckpt,
                resume=api == 'Runner.resume').train()
    msg = str(info.value)
    assert evil_ckpt in msg and 'posix.system' in msg
    assert 'execute code' in msg and 're-save' in msg
    assert info.value.unsafe_globals == ['posix.system']
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_malicious_checkpoint_over_http(evil_ckpt, tmp_path):
    # mmengine's load_from_http goes through torch.hub with weights_only=False
    load_from_http = CheckpointLoader._get_checkpoint_loader('https://x')
    url = Path(evil_ckpt).as_uri()
    with pytest.raises(UnsafeCheckpointError, match='posix.system') as info:
        load_from_http(url, model_dir=str(tmp_path / 'hub'))
    assert url in str(info.value)


def test_builtins_eval_is_refused(tmp_path):
    pwned = tmp_path / 'pwned'

    class EvalEvil:

        def __reduce__(self):
            return eval, (f"__import__('os').system('touch {pwned}')", )

    path = tmp_path / 'eval.pth'
    torch.save([EvalEvil()], path)
    with pytest.raises(UnsafeCheckpointError, match='builtins.eval'):
        safe_load(path)
    assert not pwned.exists()


def test_getattr_stand_in_only_serves_history_buffer(tmp_path):
    # HistoryBuffer pickles need getattr(HistoryBuffer, 'min'); the stand-in
    # registered as builtins.getattr must not hand out anything else.
    class GetattrEvil:

        def __reduce__(self):
            return getattr, (np.ndarray, '__class__')

    path = tmp_path / 'getattr.pth'
    torch.save([GetattrEvil()], path)
    with pytest.raises(UnsafeCheckpointError, match='builtins.getattr'):
        safe_load(path)


@pytest.mark.skipif(
    not TORCH_DEFAULTS_TO_WEIGHTS_ONLY, reason='torch < 2.6: not our call')
def test_plain_torch_load_refuses_malicious(evil_ckpt):
    # torch's own error here (lkmm does not patch torch.load itself).
    with pytest.raises(pickle.UnpicklingError, match='posix.system'):
        torch.load(evil_ckpt)


NUMPY_STATE = OrderedDict(
    weight=torch.randn(3, 2),
    f64=np.arange(6, dtype=np.float64).reshape(2, 3),
    i32=np.array([1, -2, 3], dtype=np.int32),
    u8=np.array([0, 255], dtype=np.uint8),
    f16=np.array([0.5], dtype=np.float16),
    c64=np.array([1 + 2j], dtype=np.complex64),
    b=np.array([True, False]),
    scalar_f32=np.float32(1.5),
    scalar_i64=np.int64(7),
    scalar_bool=np.bool_(True),
    dtype=np.dtype('float32'),
)


def check_numpy_state(loaded):
    assert list(loaded) == list(NUMPY_STATE)
    torch.testing.assert_close(loaded['weight'], NUMPY_STATE['weight'])
    for key, value in list(NUMPY_STATE.items())[1:]:
        assert type(loaded[key]) is type(value), key
        assert np.asarray(loaded[key]).dtype == np.asarray(value).dtype, key
        np.testing.assert_array_equal(loaded[key], value)


def test_numpy_state_dict_round_trip(tmp_path):
    path = tmp_path / 'numpy.pth'
    torch.save(NUMPY_STATE, path)
    check_numpy_state(safe_load(path))
    check_numpy_state(CheckpointLoader.load_checkpoint(str(path)))
    with open(path, 'rb') as f:  # file-like objects work too
        check_numpy_state(safe_load(f, map_location='cpu'))


@pytest.mark.parametrize('spelling', ['numpy.core', 'numpy._core'])
def test_numpy_module_spellings(tmp_path, spelling):
    # numpy 1.x pickles say numpy.core.multiarray, 2.x numpy._core; rewrite
    # a legacy-format (plain pickle stream) checkpoint to either spelling.
    path = tmp_path / 'spelling.pth'
    torch.save(NUMPY_STATE, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    for name in (b'numpy._core.multiarray', b'numpy.core.multiarray'):
        data = data.replace(name, spelling.encode() + b'.multiarray')
    assert spelling.encode() + b'.multiarray\n' in data
    path.write_bytes(data)
    check_numpy_state(safe_load(path))


def test_timm_args_namespace_loads_but_not_what_it_holds(tmp_path):
    """timm saves its run arguments as an argparse.Namespace: plain data,
    allowed; an object inside it still needs its own allowance."""
    import argparse
    args = argparse.Namespace(model='parcnetv2_xt', lr=1e-3, sched='cosine',
                              drop=[0.0, 0.1])
    path = str(tmp_path / 'timm.pth.tar')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'args': args}, path)
    loaded = safe_load(path)
    assert loaded['args'] == args
    torch.testing.assert_close(loaded['state_dict']['w'], torch.ones(2))
    evil = str(tmp_path / 'evil_args.pth.tar')
    torch.save({'args': argparse.Namespace(payload=Evil('true'))}, evil)
    with pytest.raises(UnsafeCheckpointError, match='posix.system'):
        safe_load(evil)


# --- .safetensors -----------------------------------------------------------


def toy_state_dict():
    model = ToyModel()
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[0.25, -2.0]]))
        model.linear.bias.fill_(0.5)
    return model.state_dict()


def test_safetensors_round_trip_through_mmengine(tmp_path):
    from lkmm.utils.checkpoint import (
        load_safetensors_checkpoint,
        save_safetensors_checkpoint,
    )
    sd = toy_state_dict()
    path = tmp_path / 'sub' / 'toy.safetensors'
    meta = dict(source='toy.pth', kwargs=dict(out_indices=(3, )),
                obj=object())  # not JSON: stored as its str
    save_safetensors_checkpoint(sd, path, meta)
    assert os.listdir(path.parent) == ['toy.safetensors']  # no temp file
    loaded = load_safetensors_checkpoint(path)
    assert loaded['meta']['source'] == 'toy.pth'
    assert loaded['meta']['kwargs'] == {'out_indices': [3]}
    assert loaded['meta']['obj'].startswith('<object object')
    assert loaded['state_dict'].keys() == sd.keys()
    # Every mmengine entry point: CheckpointLoader, load_checkpoint (as
    # load_from and init_cfg=dict(type='Pretrained') use it).
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert set(ckpt) == {'state_dict', 'meta'}
    model = ToyModel()
    returned = load_checkpoint(model, str(path), map_location='cpu',
                               strict=True)
    assert returned['meta']['source'] == 'toy.pth'
    for key, value in model.state_dict().items():
        assert torch.equal(value, sd[key]), key
    from mmengine.model import BaseModule

    class Pretrained(BaseModule):

        def __init__(self):
            super().__init__(init_cfg=dict(type='Pretrained',
                                           checkpoint=str(path)))
            self.linear = nn.Linear(2, 1)

    net = Pretrained()
    net.init_weights()
    assert torch.equal(net.linear.weight, sd['linear.weight'])


def test_safetensors_loader_never_unpickles(tmp_path, evil_ckpt):
    from lkmm.utils.checkpoint import load_safetensors_checkpoint
    # A pickle renamed to .safetensors is refused, its code never runs
    # (evil_ckpt's fixture checks that nothing ran).
    renamed = tmp_path / 'evil.safetensors'
    renamed.write_bytes(Path(evil_ckpt).read_bytes())
    with pytest.raises(ValueError, match='as a safetensors file'):
        load_checkpoint(ToyModel(), str(renamed))
    garbage = tmp_path / 'garbage.safetensors'
    garbage.write_bytes(b'\x00' * 3)
    with pytest.raises(ValueError, match='as a safetensors file'):
        load_safetensors_checkpoint(garbage)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(ToyModel(), str(tmp_path / 'absent.safetensors'))


def test_safetensors_without_lkmm_meta(tmp_path):
    from safetensors.torch import save_file

    from lkmm.utils.checkpoint import load_safetensors_checkpoint
    path = str(tmp_path / 'plain.safetensors')
    save_file(dict(toy_state_dict()), path, metadata={'format': 'pt'})
    loaded = load_safetensors_checkpoint(path, map_location=torch.device(
        'cpu'))
    assert loaded['meta'] == {'format': 'pt'}
    model = ToyModel()
    load_checkpoint(model, path, strict=True)
    assert torch.equal(model.linear.bias, torch.tensor([0.5]))
