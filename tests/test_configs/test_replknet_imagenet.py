"""The ImageNet recipes (paper Appendix A, official commands) as configs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg
from lkmm.utils.pretrained import check_pretrained_set, find_unset_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'replknet', name))


def schedulers(cfg):
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and cosine.type == 'CosineAnnealingLR'
    assert warmup.end == cosine.begin
    assert cosine.end == cfg.train_cfg.max_epochs
    return warmup, cosine


def has_ema(cfg):
    hooks = [h for h in cfg.get('custom_hooks', []) if h.type == 'EMAHook']
    return bool(hooks) and hooks[0].momentum == pytest.approx(1e-4)


def randaug_and_erasing(pipeline):
    kinds = {step.type: step for step in pipeline}
    aug, erase = kinds['RandAugment'], kinds['RandomErasing']
    assert (aug.policies, aug.num_policies, aug.magnitude_level,
            aug.magnitude_std) == ('timm_increasing', 2, 9, 0.5)
    assert erase.erase_prob == 0.25
    return kinds


@pytest.mark.parametrize('kernel', ['3', '7', '13', '25', '31'])
def test_kernel_study_recipe(kernel):
    cfg = load(f'replknet-{kernel}_32xb64-120e_in1k.py')
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.backbone.arch == kernel
    assert cfg.model.backbone.drop_path_rate == 0.3
    assert cfg.train_cfg.max_epochs == 120
    assert cfg.train_dataloader.batch_size == 64  # x 32 GPUs
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 4e-3, 0.05)
    assert cfg.auto_scale_lr.base_batch_size == 2048
    warmup, _ = schedulers(cfg)
    assert warmup.end == 10
    randaug_and_erasing(cfg.train_dataloader.dataset.pipeline)
    assert cfg.model.head.loss.label_smooth_val == 0.1
    mix, cut = cfg.model.train_cfg.augments
    assert (mix.type, mix.alpha, cut.type, cut.alpha) == ('Mixup', 0.8,
                                                          'CutMix', 1.0)
    assert not has_ema(cfg)


def test_31b_300e_recipe():
    cfg = load('replknet-31B_32xb64-300e_in1k.py')
    assert cfg.model.backbone.arch == '31B'
    assert cfg.model.backbone.drop_path_rate == 0.5
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.optim_wrapper.optimizer.lr == 4e-3
    assert cfg.auto_scale_lr.base_batch_size == 2048
    assert has_ema(cfg)


FINETUNES = [
    # config, arch, side, batch per GPU, drop path, cosine end ratio,
    # decay type, decay rate, pretrained entry
    ('replknet-31B_in1k-pre_32xb32-30e_in1k-384px.py', '31B', 384, 32, 0.8,
     2.5e-3, 'layer_wise', 0.7, 'model.init_cfg.checkpoint'),
    ('replknet-31B_in21k-pre_16xb32-30e_in1k.py', '31B', 224, 32, 0.2,
     2.5e-3, 'layer_wise', 0.7, 'model.backbone.init_cfg.checkpoint'),
    ('replknet-31B_in21k-pre_32xb16-30e_in1k-384px.py', '31B', 384, 16, 0.3,
     0.75, 'layer_wise', 0.7, 'model.backbone.init_cfg.checkpoint'),
    ('replknet-31L_in21k-pre_32xb16-30e_in1k-384px.py', '31L', 384, 16, 0.3,
     0.75, 'layer_wise', 0.7, 'model.backbone.init_cfg.checkpoint'),
    ('replknet-XL_megdata73m-pre_32xb16-30e_in1k-320px.py', 'XL', 320, 16,
     0.2, 2.5e-3, 'stage_wise', 0.4, 'model.backbone.init_cfg.checkpoint'),
]


@pytest.mark.parametrize(
    'name,arch,side,batch,drop_path,end_ratio,decay_type,decay_rate,ckpt',
    FINETUNES)
def test_finetune_recipes(name, arch, side, batch, drop_path, end_ratio,
                          decay_type, decay_rate, ckpt):
    cfg = load(name)
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.drop_path_rate == drop_path
    assert cfg.model.train_cfg is None  # no Mixup / CutMix
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.train_cfg.max_epochs == 30
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 4e-4, 1e-8)
    assert cfg.optim_wrapper.constructor == \
        'lkmm.LayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.decay_type == decay_type
    assert cfg.optim_wrapper.paramwise_cfg.decay_rate == decay_rate
    warmup, cosine = schedulers(cfg)
    assert warmup.end == 1
    assert cosine.eta_min_ratio == pytest.approx(end_ratio)
    assert has_ema(cfg)
    kinds = randaug_and_erasing(cfg.train_dataloader.dataset.pipeline)
    assert kinds['RandomResizedCrop'].scale == side
    assert find_unset_pretrained(cfg.model) == [ckpt]
    with pytest.raises(ValueError, match=ckpt.replace('.', r'\.')):
        check_pretrained_set(cfg)


def test_xl_uses_inception_mean_std():
    cfg = load('replknet-XL_megdata73m-pre_32xb16-30e_in1k-320px.py')
    model = build_model_from_cfg(cfg)
    assert model.data_preprocessor.mean.flatten().tolist() == [127.5] * 3
    assert model.data_preprocessor.std.flatten().tolist() == [127.5] * 3
    assert cfg.test_dataloader.dataset.pipeline[1].scale == 320


@pytest.mark.parametrize('arch', ['31B', '31L'])
def test_in21k_pretraining_recipe(arch):
    cfg = load(f'replknet-{arch}_128xb32-90e_in21k.py')
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.head.num_classes == 21841
    assert cfg.train_dataloader.batch_size == 32  # x 128 GPUs
    assert cfg.train_dataloader.dataset.type == 'ImageNet21k'
    assert cfg.train_cfg.max_epochs == 90
    assert cfg.auto_scale_lr.base_batch_size == 4096
    warmup, _ = schedulers(cfg)
    assert warmup.end == 5
    assert cfg.val_dataloader is None


def test_finetune_optimizer_groups_follow_layer_decay():
    """The 22K->1K fine-tune builds the lkmm layer-decay optimizer: the head
    trains at the base lr, the stem at 0.7 ** 13 of it (14 layer ids)."""
    cfg = load('replknet-31B_in21k-pre_16xb32-30e_in1k.py')
    cfg.model.backbone.arch = dict(
        channels=[8, 16, 24, 32], layers=[2, 2, 18, 2],
        kernel_sizes=[7, 7, 7, 5], small_kernel=3)
    cfg.model.head.in_channels = 32
    model = build_model_from_cfg(cfg)
    init_default_scope('mmpretrain')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr_of = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            lr_of[id(param)] = group['lr']
    base = cfg.optim_wrapper.optimizer.lr
    assert lr_of[id(model.head.fc.weight)] == pytest.approx(base)
    stem = model.backbone.stem[0].conv.weight
    assert lr_of[id(stem)] == pytest.approx(base * 0.7 ** 13)
    # One optimizer step runs.
    loss = model(torch.randn(2, 3, 32, 32), mode='tensor').sum()
    wrapper.update_params(loss)
