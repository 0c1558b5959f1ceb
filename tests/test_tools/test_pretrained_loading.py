"""A downstream config starts from an lkmm classifier checkpoint through
``init_cfg=dict(type='Pretrained', prefix='backbone.')`` and the keys that do
not fit are listed by name."""
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

import lkmm  # noqa: F401
from lkmm.apis import build_model_from_cfg

# The demo's backbone (configs/demo/upernet_replknet-tiny_shapes.py).
DEMO_ARCH = dict(channels=[16, 32, 64, 128], layers=[1, 1, 2, 1],
                 kernel_sizes=[17, 15, 13, 13], small_kernel=5)


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

    # What a user writes: the demo config, its backbone from the checkpoint.
    config = tmp_path / 'from_classifier.py'
    config.write_text(
        f"_base_ = '{tools.demo_config}'\n"
        'model = dict(backbone=dict(init_cfg=dict(\n'
        f"    _delete_=True, type='Pretrained', checkpoint='{ckpt}',\n"
        "    prefix='backbone.')))\n")
    work_dir = str(tmp_path / 'seg')
    proc = tools.run(
        [tools.python, 'tools/train.py', str(config), '--work-dir',
         work_dir, '--cfg-options', 'train_cfg.max_iters=1',
         'train_cfg.val_interval=1', 'custom_hooks=[]',
         'default_hooks.checkpoint.interval=1', *tools.data_options()],
        env=dict(OMP_NUM_THREADS='1'))
    log = proc.stdout + proc.stderr
    # The classifier's final BN has no place in the segmentation backbone
    # (no output norms there): named, not silently dropped.
    assert 'unexpected key in source state_dict: out_norm3.weight' in log
    assert 'missing keys in source state_dict' not in log

    # The weights really arrived: the stem of the segmentor's backbone after
    # init (iteration 1 changes it only slightly) started from the
    # classifier's.
    trained = torch.load(f'{work_dir}/iter_1.pth', map_location='cpu')
    stem = trained['state_dict']['backbone.stem.0.conv.weight']
    source = state['backbone.stem.0.conv.weight']
    assert torch.allclose(stem, source, atol=0.05)
