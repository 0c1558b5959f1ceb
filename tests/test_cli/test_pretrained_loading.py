"""A downstream config starts from pretrained RepLKNet weights through
``init_cfg=dict(type='Pretrained', ...)``, and the keys that do not fit are
listed by name: an lkmm classifier checkpoint (``prefix='backbone.'``), and
an official (DingXiaoH/RepLKNet-pytorch) checkpoint converted by
``tools/model_converters/replknet_to_lkmm.py --target backbone`` (no
prefix)."""
import re

import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg

# The demo's backbone (configs/demo/upernet_replknet-tiny_shapes.py).
DEMO_ARCH = dict(channels=[16, 32, 64, 128], layers=[1, 1, 2, 1],
                 kernel_sizes=[17, 15, 13, 13], small_kernel=5)
# The same arch in mmpretrain's spelling (dw_ratio 1 and ffn_ratio 4 are
# the defaults on both sides).
MMPRE_DEMO_ARCH = dict(channels=[16, 32, 64, 128], layers=[1, 1, 2, 1],
                       large_kernel_sizes=[17, 15, 13, 13], small_kernel=5,
                       dw_ratio=1)
# The classifier's final BN, which the demo's segmentation backbone (no
# output norms) has no place for.
OUT_NORM3 = [f'norm3.{name}' for name in (
    'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')]


def _train_from(tools, tmp_path, checkpoint, prefix=None):
    """Train the demo config 1 iteration, its backbone initialized from
    ``checkpoint`` the way a user writes it; returns the log and the state
    dict saved after the iteration."""
    prefix_arg = '' if prefix is None else f", prefix='{prefix}'"
    config = tmp_path / 'pretrained.py'
    config.write_text(
        f"_base_ = '{tools.demo_config}'\n"
        'model = dict(backbone=dict(init_cfg=dict(\n'
        f"    _delete_=True, type='Pretrained', checkpoint='{checkpoint}'"
        f'{prefix_arg})))\n')
    work_dir = str(tmp_path / 'seg')
    proc = tools.run(
        [tools.python, 'tools/train.py', str(config), '--work-dir',
         work_dir, '--cfg-options', 'train_cfg.max_iters=1',
         'train_cfg.val_interval=1', 'custom_hooks=[]',
         'default_hooks.checkpoint.interval=1', *tools.data_options()],
        env=dict(OMP_NUM_THREADS='1'))
    trained = torch.load(f'{work_dir}/iter_1.pth', map_location='cpu')
    return proc.stdout + proc.stderr, trained['state_dict']


def _load_report(log):
    """The keys mmengine's ``load_state_dict`` names in its warning, as
    ``(unexpected, missing)`` lists (empty when it names none)."""

    def keys(title):
        match = re.search(rf'{title} in source state_dict: (.*)', log)
        return match.group(1).strip().split(', ') if match else []

    return keys('unexpected key'), keys('missing keys')


def _assert_arrived(trained, key, source):
    """The weight ``key`` of the segmentor after init (iteration 1 changes
    it only slightly) started from ``source``."""
    assert torch.allclose(trained[key], source, atol=0.05)


def test_segmentor_starts_from_classifier_checkpoint(tools, tmp_path):
    torch.manual_seed(123)
    classifier = build_model_from_cfg(Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='lkmm.RepLKNet', arch=DEMO_ARCH,
                          final_norm=True),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=8,
                      in_channels=128)))))
    state = classifier.state_dict()
    # Unmistakable values: a fresh init could never produce them (the
    # segmentor is seeded too, and might otherwise repeat this init).
    state['backbone.stem.0.conv.weight'] += 1.0
    ckpt = str(tmp_path / 'classifier.pth')
    save_checkpoint({'state_dict': state, 'meta': {}}, ckpt)

    log, trained = _train_from(tools, tmp_path, ckpt, prefix='backbone.')
    # The classifier's final BN has no place in the segmentation backbone:
    # named, not silently dropped.
    unexpected, missing = _load_report(log)
    assert unexpected == OUT_NORM3
    assert missing == []
    _assert_arrived(trained, 'backbone.stem.0.conv.weight',
                    state['backbone.stem.0.conv.weight'])


def _official_checkpoint(path):
    """Write an official RepLKNet-pytorch classifier checkpoint of the demo
    arch; returns its state dict.

    mmpretrain's ``RepLKNet`` builds the official module tree (see
    tests/test_models/test_backbones/test_replknet_checkpoint.py), except
    that the official classifier applies its final BN as a top-level
    ``norm`` where mmpretrain has ``stages.3.norm``; a Linear ``head``
    follows pooling.
    """
    from mmpretrain.models.backbones import RepLKNet as MMPreRepLKNet
    torch.manual_seed(321)
    backbone = MMPreRepLKNet(arch=MMPRE_DEMO_ARCH)
    state = {}
    for key, value in backbone.state_dict().items():
        if not key.startswith('stages.3.norm.'):
            state[key] = value.clone()
    for key, value in backbone.state_dict().items():
        if key.startswith('stages.3.norm.'):
            state['norm.' + key[len('stages.3.norm.'):]] = value.clone()
    state['head.weight'] = torch.randn(1000, 128) * 0.01
    state['head.bias'] = torch.zeros(1000)
    torch.save(state, path)  # a bare state dict, as the release files
    return state


def test_segmentor_starts_from_converted_official_checkpoint(
        tools, tmp_path):
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'lkmm.pth')
    # Unmistakable values in a renamed key (lkb_origin -> large_conv).
    official_key = 'stages.2.blocks.2.large_kernel.lkb_origin.conv.weight'
    lkmm_key = 'backbone.stages.2.2.large_kernel.large_conv.conv.weight'
    state = _official_checkpoint(src)
    state[official_key] += 1.0
    torch.save(state, src)

    proc = tools.run([
        tools.python, 'tools/model_converters/replknet_to_lkmm.py', src,
        dst, '--target', 'backbone'
    ], env=dict(OMP_NUM_THREADS='1'))
    out = proc.stdout
    # Its key report: the classifier head is dropped by name, the official
    # final BN kept (as norm3, final_norm=True), nothing else left over.
    assert 'source format: official, target: backbone' in out
    assert "'final_norm': True" in out
    assert 'dropped source keys (not part of the target) (2):\n' \
        '  head.weight\n  head.bias\n' in out
    for name in ('unknown', 'missing', 'unexpected', 'mismatched'):
        assert f'{name} keys' not in out
    assert 'verified: the inferred lkmm model loads the weights ' \
        '(strict=True)' in out
    assert f'saved {dst}' in out

    log, trained = _train_from(tools, tmp_path, dst)
    # The official final BN (now norm3) has no place in the demo's
    # segmentation backbone: named, not silently dropped; every weight the
    # backbone has came from the checkpoint.
    unexpected, missing = _load_report(log)
    assert unexpected == OUT_NORM3
    assert missing == []
    _assert_arrived(trained, lkmm_key, state[official_key])
    _assert_arrived(trained, 'backbone.stem.0.conv.weight',
                    state['stem.0.conv.weight'])
