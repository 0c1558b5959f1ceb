"""configs/replknet/guidelines/: RepLKNet's MobileNetV2 studies (paper
Tables 2, 3, 4 and 12), one config per row, recipes checked field by field,
and short training runs of the shortcut-free and re-parameterized models
ending in a verified deployment."""
import functools
import glob
import math
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

import lkmm  # noqa: F401
from lkmm.analysis import to_deploy_form
from lkmm.engine.runner import build_model_from_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDER = osp.join(REPO, 'configs', 'replknet', 'guidelines')
IN1K = 'mobilenet-v2-{}_8xb32-100e_in1k.py'
CITYSCAPES = 'deeplabv3plus_mobilenet-v2-{}_in1k-pre_4xb2-80k_' \
    'cityscapes-512x1024.py'

# arch: (paper ImageNet top-1, Cityscapes mIoU) -- None where the paper
# reports none (Tables 2 and 12 are ImageNet only) or the extracted text
# lost it (Table 12).
ROWS = {
    'k3': (71.76, 72.31),             # Tables 2, 3, 4
    'k3-noshortcut': (68.67, None),   # Table 2
    'k13': (72.53, 75.67),            # Tables 2, 3
    'k13-noshortcut': (53.98, None),  # Table 2
    'k9': (72.67, 76.11),             # Table 3
    'k9-rep3': (73.09, 76.30),        # Table 3
    'k13-rep3': (73.24, 76.60),       # Table 3
    'last7-rep3': (72.00, 74.30),     # Table 4
    'last13-rep3': (71.97, 74.62),    # Table 4
    'k17': (None, None),              # Table 12
    'k3-dil4': (None, None),          # Table 12
    'k3-dil6': (None, None),          # Table 12
    'k3-dil8': (None, None),          # Table 12
}


@functools.lru_cache(maxsize=None)
def load(name):
    """The config (read once; the tests do not change it)."""
    return Config.fromfile(osp.join(FOLDER, name))


def header(name):
    with open(osp.join(FOLDER, name)) as f:
        return ' '.join(line[1:].strip() for line in f
                        if line.startswith('#'))


def test_one_config_per_row():
    expected = {IN1K.format(a) for a in ROWS} | {
        CITYSCAPES.format(a) for a, (_, miou) in ROWS.items()
        if miou is not None}
    found = {osp.basename(p) for p in glob.glob(osp.join(FOLDER, '*.py'))}
    assert found == expected
    for arch, (top1, miou) in ROWS.items():
        cfg = load(IN1K.format(arch))
        assert cfg.model.backbone.arch == arch
        text = header(IN1K.format(arch))
        if top1 is None:
            assert "Table 12's numbers did not survive" in text
        else:
            assert f'Paper: {top1:.2f} top-1' in text, arch
        if miou is not None:
            name = CITYSCAPES.format(arch)
            assert load(name).model.backbone.arch == arch
            assert f'{miou:.2f} mIoU' in header(name), arch
            assert IN1K.format(arch) in header(name) or arch == 'k3'


def _without_arch(cfg):
    text = cfg.to_dict()
    text['model']['backbone'].pop('arch')
    return text


def test_imagenet_recipe():
    """Appendix A: 8 x 32 images, SGD momentum 0.9 lr 0.1, 5-epoch warm-up,
    cosine, 100 epochs, random crop and flip only; the weight decay lost in
    extraction is 4e-5 (stated in the schedule's header)."""
    cfg = load(IN1K.format('k3'))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports['imports'] == ['lkmm']
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.momentum, optim.weight_decay) == (
        'SGD', 0.1, 0.9, 4e-5)
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.by_epoch) == (
        'LinearLR', 0, 5, True)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max,
            cosine.eta_min) == ('CosineAnnealingLR', 5, 100, 95, 0)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.auto_scale_lr.base_batch_size == 8 * 32
    assert cfg.train_dataloader.batch_size == 32
    train = cfg.train_dataloader.dataset.pipeline
    assert [t.type for t in train] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
        'PackInputs']
    assert train[1].scale == 224
    assert (train[2].prob, train[2].direction) == (0.5, 'horizontal')
    assert 'augments' not in (cfg.model.get('train_cfg') or {})
    head = cfg.model.head
    assert (head.in_channels, head.num_classes, head.loss.type) == (
        1280, 1000, 'CrossEntropyLoss')
    backbone = cfg.model.backbone
    assert backbone.type == 'lkmm.LargeKernelMobileNetV2'
    assert (backbone.final_channels, tuple(backbone.out_indices)) == (
        1280, (3, ))
    with open(osp.join(REPO, 'configs', '_base_', 'schedules',
                       'imagenet_bs256_sgd_warmup-cosine_100e.py')) as f:
        schedule = f.read()
    assert 'weight decay 4e-5' in schedule and 'lost' in schedule
    # Every row trains the same way: only the arch differs.
    for arch in ROWS:
        assert _without_arch(load(IN1K.format(arch))) == _without_arch(cfg)


def test_cityscapes_recipe():
    """mmseg's stock DeepLabv3+ on Cityscapes with the backbone wired as
    mmseg's MobileNetV2 DeepLabv3+ (output stride 8; heads on 320, 24 and
    96 channels)."""
    cfg = load(CITYSCAPES.format('k3'))
    assert cfg.default_scope == 'mmseg'
    model = cfg.model
    assert model.pretrained is None
    backbone = model.backbone
    assert backbone.type == 'lkmm.LargeKernelMobileNetV2'
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert tuple(backbone.strides) == (2, 2, 1, 1)
    assert tuple(backbone.dilations) == (1, 1, 2, 4)
    assert backbone.final_channels is None
    assert backbone.norm_cfg.type == 'SyncBN'
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=None,
                                     prefix='backbone.')
    head, aux = model.decode_head, model.auxiliary_head
    assert head.type == 'DepthwiseSeparableASPPHead'
    assert (head.in_channels, head.in_index, head.c1_in_channels,
            head.channels, head.c1_channels) == (320, 3, 24, 512, 48)
    assert tuple(head.dilations) == (1, 12, 24, 36)
    assert (aux.type, aux.in_channels, aux.in_index,
            aux.loss_decode.loss_weight) == ('FCNHead', 96, 2, 0.4)
    assert head.num_classes == aux.num_classes == 19
    assert model.test_cfg.mode == 'whole'
    assert tuple(model.data_preprocessor.size) == (512, 1024)
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.momentum, optim.weight_decay) == (
        'SGD', 0.01, 0.9, 5e-4)
    poly, = cfg.param_scheduler
    assert (poly.type, poly.power, poly.eta_min, poly.end) == (
        'PolyLR', 0.9, 1e-4, 80000)
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.dataset.type == 'CityscapesDataset'
    for arch, (_, miou) in ROWS.items():
        if miou is not None:
            assert _without_arch(load(CITYSCAPES.format(arch))) == \
                _without_arch(cfg)
    built = build_model_from_cfg(cfg)
    # The low-level branch reads the first output (mmseg's head always
    # takes inputs[0]): stage 0, 24 channels.
    assert built.decode_head.c1_bottleneck.conv.in_channels == \
        built.backbone.channels[0] == 24
    # Training waits for the ImageNet checkpoint.
    with pytest.raises(ValueError, match='init_cfg.checkpoint=PATH'):
        built.init_weights()


CONFIGS = sorted(osp.basename(p)
                 for p in glob.glob(osp.join(FOLDER, '*.py')))


@functools.lru_cache(maxsize=None)
def readme_rows():
    """``{config name: table row}``: the first README line linking each
    config of the folder."""
    with open(osp.join(FOLDER, 'README.md')) as f:
        lines = f.read().splitlines()
    rows = {}
    for line in lines:
        for name in re.findall(r'\]\(([^)/]+\.py)\)', line):
            rows.setdefault(name, line)
    return rows


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_runs_and_has_its_readme_params(name):
    """Every config builds, runs a tiny input, and its README row gives the
    parameters of its inference model (what get_flops.py prints)."""
    model = build_model_from_cfg(load(name)).eval()
    segmentor = name.startswith('deeplabv3plus')
    shape = (1, 3, 32, 64) if segmentor else (1, 3, 32, 32)
    with torch.no_grad():
        out = model(torch.randn(*shape), mode='tensor')
    assert out.shape == ((1, 19, 8, 16) if segmentor else (1, 1000))
    assert torch.isfinite(out).all()
    params = sum(p.numel() for p in to_deploy_form(model).parameters())
    assert f'| {params / 1e6:.2f}M ' in readme_rows()[name]


def test_readme_lists_every_config_with_its_paper_number():
    rows = readme_rows()
    assert set(rows) == set(CONFIGS)
    for arch, (top1, miou) in ROWS.items():
        for name, paper in ((IN1K.format(arch), top1),
                            (CITYSCAPES.format(arch), miou)):
            if name in rows:
                assert (f'| {paper:.2f} |' if paper is not None else
                        '| lost |') in rows[name], name


# A small MobileNetV2 for the training runs (the configs' recipe, data and
# widths shrunk).
_TINY_ARCH = dict(stem_channels=[8, 8], channels=[[8], [16], [16, 24], [32]],
                  repeats=[[1], [2], [1, 1], [1]], expand_ratio=2)
_RUN = """_base_ = {base!r}
model = dict(
    backbone=dict(arch=dict(_delete_=True, **{arch!r}), final_channels=32),
    head=dict(num_classes=8, in_channels=32))
data_preprocessor = dict(num_classes=8)
_data = dict(type='ImageNet', data_root={root!r},
             metainfo=dict(classes={classes!r}))
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(split='train', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=32),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs')], **_data))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(split='val', pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs')], **_data))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=100)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2))
randomness = dict(seed=0)
experiment_name = {name!r}
"""


@pytest.fixture(scope='module')
def shapes_cls_root(tmp_path_factory):
    from lkmm.datasets import make_shapes_classification
    return make_shapes_classification(
        str(tmp_path_factory.mktemp('guideline_shapes')),
        num_train_per_class=2, num_val_per_class=1, size=32)


@pytest.mark.parametrize('arch', ['k13-noshortcut', 'k13-rep3'])
def test_short_training_run_then_verified_deployment(arch, shapes_cls_root,
                                                     tmp_path):
    """tools/train.py's code path on the row's config (recipe as published,
    widths and data shrunk) trains 4 iterations; the deployment tool deploys
    the trained checkpoint and checks that the deployed model, rebuilt from
    the config it writes (backbone built with deploy=True), gives the same
    outputs."""
    from lkmm.cli.launch import parse_train_args, run_train
    from lkmm.datasets import SHAPES_CLS_CLASSES
    from lkmm.deploy import reparameterize_checkpoint
    from lkmm.models import LargeKernelMobileNetV2
    row = LargeKernelMobileNetV2.arch_zoo[arch]
    config = tmp_path / f'tiny_{arch}.py'
    config.write_text(_RUN.format(
        base=osp.join(FOLDER, IN1K.format(arch)),
        arch=dict(_TINY_ARCH, **row), root=shapes_cls_root,
        classes=SHAPES_CLS_CLASSES, name=f'guideline_{arch}'))
    work_dir = str(tmp_path / 'work')
    runner = run_train(parse_train_args(
        [str(config), '--work-dir', work_dir]))
    assert runner.iter == 4
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    backbone = runner.model.backbone
    assert backbone.arch_settings['shortcut'] == row.get('shortcut', True)
    blocks = [b for stage in backbone.stages for b in stage]
    assert any(b.has_shortcut for b in blocks) == row.get('shortcut', True)
    small = [hasattr(b.dw_conv, 'small_conv') for b in blocks]
    assert all(small) == (row.get('small_kernel') == 3) and \
        any(small) == all(small)
    # Trained: the BN statistics moved away from their initial values.
    assert not torch.equal(blocks[0].dw_conv.large_conv.bn.running_var,
                           torch.ones_like(
                               blocks[0].dw_conv.large_conv.bn.running_var))
    result = reparameterize_checkpoint(
        str(config), osp.join(work_dir, 'epoch_2.pth'),
        str(tmp_path / 'deployed.pth'), input_shape=(3, 32, 32),
        bench_iters=0)
    assert result['relative_diff'] < 1e-5
    assert result['verify_max_abs_diff'] <= 1e-5 * result['output_scale']
    deployed = Config.fromfile(result['out_config'])
    assert deployed.model.backbone.deploy is True
