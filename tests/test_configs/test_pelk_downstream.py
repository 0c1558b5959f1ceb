"""Downstream configs of PeLK (ADE20K UperNet, COCO Cascade Mask R-CNN) and
of ConvNeXt-31 (RepLKNet appendix, ADE20K UperNet 80k).

PeLK published no downstream code; the paper says "following Swin and
ConvNeXt" (ADE20K) and "following ConvNeXt ... default configurations in
MMDetection" (COCO), so the recipes are ConvNeXt's (mmseg's / mmdet's stock
ConvNeXt configs, the ConvNeXt release) with the issue's settings: ADE20K
AdamW 1e-4, stage-wise lr decay 0.9, 1500-iteration warm-up, batch 16,
160k; COCO AdamW 2e-4, layer-wise decay 0.7, 3x. Params/FLOPs against the
paper: tests/test_models/test_backbones/test_large_kernel_convnext_fidelity.py.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg
from lkmm.models import LargeKernelConvNeXt
from lkmm.utils.pretrained import check_pretrained_set, find_unset_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]

ARCHS = ['pelk-t', 'pelk-s', 'pelk-b', 'pelk-b-101']
# arch: (ADE20K drop path, COCO drop path, ConvNeXt num_layers) -- the drop
# paths of mmseg's / mmdet's / the ConvNeXt release's T, S, B configs.
SETTINGS = {
    'pelk-t': (0.4, 0.4, 6),
    'pelk-s': (0.3, 0.6, 12),
    'pelk-b': (0.4, 0.7, 12),
    'pelk-b-101': (0.4, 0.7, 12),
}


def ade_name(arch):
    return f'upernet_{arch}_in1k-pre_8xb2-160k_ade20k-512x512.py'


def coco_name(arch):
    return f'cascade-mask-rcnn_{arch}_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'


def cnx31_name(size):
    return f'upernet_convnext-31-{size}_in1k-pre_8xb2-80k_ade20k-512x512.py'


ADE = [ade_name(a) for a in ARCHS]
ADE_MS = [n.replace('.py', '_ms.py') for n in ADE]
COCO = [coco_name(a) for a in ARCHS]
CNX31 = [cnx31_name(s) for s in ('t', 's')]


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'pelk', name))


def step(pipeline, kind):
    found = [s for s in pipeline if s.type == kind]
    assert len(found) == 1, f'{kind} in {pipeline}'
    return found[0]


def check_backbone(backbone, arch, drop_path):
    assert backbone.type == 'lkmm.LargeKernelConvNeXt'
    assert backbone.arch == arch
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.gap_before_final_norm is False
    assert backbone.drop_path_rate == drop_path
    assert backbone.norm_cfg.type == 'SyncBN' and backbone.with_cp
    assert (backbone.init_cfg.type, backbone.init_cfg.prefix) == (
        'Pretrained', 'backbone.')


def test_configs_present():
    for name in ADE + ADE_MS + COCO + CNX31:
        cfg = load(name)
        assert cfg.custom_imports['imports'] == ['lkmm']
        # Dynamic sparsity is a pre-training technique: fine-tuning is dense.
        hooks = [h.type for h in cfg.get('custom_hooks', [])]
        assert not any('Sparsity' in h for h in hooks), name


# ------------------------------------------------------------ ADE20K ----
@pytest.mark.parametrize('arch', ARCHS)
def test_ade20k_recipe(arch):
    cfg = load(ade_name(arch))
    drop_path, _, num_layers = SETTINGS[arch]
    model = cfg.model
    check_backbone(model.backbone, arch, drop_path)
    channels = LargeKernelConvNeXt.arch_zoo[arch]['channels']
    head, aux = model.decode_head, model.auxiliary_head
    assert head.type == 'UPerHead' and head.in_channels == channels
    assert head.channels == 512 and tuple(head.pool_scales) == (1, 2, 3, 6)
    assert (aux.type, aux.in_index, aux.channels) == ('FCNHead', 2, 256)
    assert aux.in_channels == channels[2]
    assert aux.loss_decode.loss_weight == 0.4
    assert head.num_classes == aux.num_classes == 150
    assert head.norm_cfg.type == aux.norm_cfg.type == 'SyncBN'
    # SLaK's / ConvNeXt's single-scale test: 512x512 windows, stride 341.
    assert model.test_cfg.mode == 'slide'
    assert tuple(model.test_cfg.crop_size) == (512, 512)
    assert tuple(model.test_cfg.stride) == (341, 341)
    pre = model.data_preprocessor
    assert tuple(pre.size) == (512, 512)
    assert (pre.mean, pre.std) == (IMAGENET_MEAN, IMAGENET_STD)
    # AdamW 1e-4 / 0.05, stage-wise decay 0.9 with ConvNeXt's num_layers.
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'OptimWrapper'
    assert wrapper.constructor == 'lkmm.LayerDecayOptimWrapperConstructor'
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999)
    assert dict(wrapper.paramwise_cfg) == dict(
        decay_rate=0.9, decay_type='stage_wise', num_layers=num_layers)
    # 1500 warm-up iterations from 1e-6, poly to 0 at 160k; 8 x 2 images.
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.begin, warmup.end) == (
        'LinearLR', 1e-6, 0, 1500)
    assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == (
        'PolyLR', 1.0, 0.0, 1500, 160000)
    assert not warmup.by_epoch and not poly.by_epoch
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == 2
    # mmseg's ADE20K pipeline: scale 0.5-2 of 2048x512, 512 crops.
    train = cfg.train_dataloader.dataset.pipeline
    resize = step(train, 'RandomResize')
    assert tuple(resize.scale) == (2048, 512)
    assert tuple(resize.ratio_range) == (0.5, 2.0)
    assert tuple(step(train, 'RandomCrop').crop_size) == (512, 512)
    step(train, 'PhotoMetricDistortion')
    test = cfg.test_dataloader.dataset.pipeline
    assert tuple(step(test, 'Resize').scale) == (2048, 512)


def test_ade20k_variants_differ_only_where_documented():
    """S/B/B-101 are T with their arch, drop path, widths and num_layers."""
    base = load(ade_name('pelk-t'))
    for arch in ARCHS[1:]:
        cfg = load(ade_name(arch))
        for key in ('train_dataloader', 'test_dataloader', 'param_scheduler',
                    'train_cfg', 'tta_pipeline'):
            assert cfg[key] == base[key], (arch, key)
        model = copy.deepcopy(cfg.model.to_dict())
        ref = base.model.to_dict()
        for key in ('arch', 'drop_path_rate'):
            model['backbone'][key] = ref['backbone'][key]
        model['decode_head']['in_channels'] = ref['decode_head']['in_channels']
        model['auxiliary_head']['in_channels'] = \
            ref['auxiliary_head']['in_channels']
        assert model == ref, arch


@pytest.mark.parametrize('name', ADE_MS)
def test_ade20k_multi_scale_variant(name):
    """``_ms``: the single-scale model in SegTTAModel, ratios 0.5-1.75 of
    the 2048x512 test scale (mmseg 0.x MultiScaleFlipAug, as ConvNeXt and
    SLaK tested) x 2 flips, each scale inferred whole (ConvNeXt's _ms
    configs; the single-scale configs slide windows)."""
    cfg, single = load(name), load(name.replace('_ms.py', '.py'))
    assert cfg.model.type == 'SegTTAModel'
    module, model = cfg.model.module.to_dict(), single.model.to_dict()
    assert module.pop('test_cfg') == dict(mode='whole')
    assert model.pop('test_cfg')['mode'] == 'slide'
    assert module == model
    assert cfg.train_dataloader.to_dict() == single.train_dataloader.to_dict()
    load_img, tta = cfg.test_dataloader.dataset.pipeline
    assert load_img.type == 'LoadImageFromFile' and tta.type == 'TestTimeAug'
    resizes, flips = tta.transforms[0], tta.transforms[1]
    ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert [tuple(r.scale) for r in resizes] == [
        (int(2048 * r), int(512 * r)) for r in ratios]
    assert all(r.keep_ratio for r in resizes)
    assert [f.prob for f in flips] == [0., 1.]


# -------------------------------------------------------------- COCO ----
@pytest.mark.parametrize('arch', ARCHS)
def test_coco_recipe(arch):
    cfg = load(coco_name(arch))
    _, drop_path, num_layers = SETTINGS[arch]
    assert cfg.default_scope == 'mmdet'
    model = cfg.model
    assert model.type == 'CascadeRCNN'
    check_backbone(model.backbone, arch, drop_path)
    channels = LargeKernelConvNeXt.arch_zoo[arch]['channels']
    assert model.neck.type == 'FPN' and model.neck.in_channels == channels
    assert (model.neck.out_channels, model.neck.num_outs) == (256, 5)
    roi_head = model.roi_head
    assert roi_head.type == 'CascadeRoIHead' and roi_head.num_stages == 3
    stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
            [0.033, 0.033, 0.067, 0.067]]
    for head, std in zip(roi_head.bbox_head, stds):
        assert head.type == 'Shared4Conv1FCBBoxHead'
        assert (head.conv_out_channels, head.fc_out_channels) == (256, 1024)
        assert head.reg_decoded_bbox and not head.reg_class_agnostic
        assert head.norm_cfg.type == 'SyncBN'
        assert (head.loss_bbox.type, head.loss_bbox.loss_weight) == (
            'GIoULoss', 10.0)
        assert list(head.bbox_coder.target_stds) == std
    assert roi_head.mask_head.type == 'FCNMaskHead'
    pre = model.data_preprocessor
    assert (pre.mean, pre.std) == (IMAGENET_MEAN, IMAGENET_STD)
    # AdamW 2e-4 / 0.05, layer-wise decay 0.7 over ConvNeXt's layers.
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'OptimWrapper'
    assert wrapper.constructor == 'lkmm.LayerDecayOptimWrapperConstructor'
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999) and 'momentum' not in opt
    assert dict(wrapper.paramwise_cfg) == dict(
        decay_rate=0.7, decay_type='layer_wise', num_layers=num_layers)
    assert wrapper.get('clip_grad') is None
    # 3x: 36 epochs, steps at 27 and 33, 500-iteration warm-up; 8 x 2.
    assert cfg.train_cfg.max_epochs == 36
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end,
            warmup.by_epoch) == ('LinearLR', 0.001, 500, False)
    assert (steps.type, list(steps.milestones), steps.gamma,
            steps.end) == ('MultiStepLR', [27, 33], 0.1, 36)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr.base_batch_size == 16
    # DETR-style multi-scale training with random crop (ConvNeXt's).
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert [s.type for s in pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'RandomFlip', 'RandomChoice',
        'PackDetInputs']
    plain, cropped = pipeline[3].transforms
    ms = [(s, 1333) for s in range(480, 801, 32)]
    assert [tuple(s) for s in plain[0].scales] == ms
    assert [s.type for s in cropped] == [
        'RandomChoiceResize', 'RandomCrop', 'RandomChoiceResize']
    assert tuple(cropped[1].crop_size) == (384, 600)
    test_resize = step(cfg.test_dataloader.dataset.pipeline, 'Resize')
    assert tuple(test_resize.scale) == (1333, 800)


# -------------------------------------------------------- ConvNeXt-31 ---
@pytest.mark.parametrize('size', ['t', 's'])
def test_convnext31_is_the_kernel_study_recipe(size):
    """RepLKNet appendix: ADE20K settings "identical" to the kernel-size
    study (Sec. 4.2): lkmm's kernel-study config with only the backbone
    swapped."""
    cfg = load(cnx31_name(size))
    reference = Config.fromfile(osp.join(
        REPO, 'configs', 'replknet',
        'upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py'))
    arch = f'convnext-31-{size}'
    check_backbone(cfg.model.backbone, arch, 0.5)
    assert LargeKernelConvNeXt.arch_zoo[arch]['kernel_sizes'] == [
        31, 29, 27, 13]
    channels = [96, 192, 384, 768]
    assert LargeKernelConvNeXt.arch_zoo[arch]['channels'] == channels
    assert cfg.model.decode_head.in_channels == channels
    assert cfg.model.auxiliary_head.in_channels == channels[2]
    model, ref = cfg.model.to_dict(), reference.model.to_dict()
    for part in ('backbone', ):
        model.pop(part), ref.pop(part)
    model['decode_head']['in_channels'] = ref['decode_head']['in_channels']
    model['auxiliary_head']['in_channels'] = \
        ref['auxiliary_head']['in_channels']
    assert model == ref
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'train_dataloader', 'test_dataloader', 'default_hooks'):
        assert cfg[key] == reference[key], key
    assert cfg.train_cfg.max_iters == 80000


# ----------------------------------------------------- shared checks ----
@pytest.mark.parametrize('name', ADE + COCO + CNX31)
def test_training_refuses_without_pretrained_backbone(name):
    cfg = load(name)
    assert find_unset_pretrained(cfg.model) == [
        'model.backbone.init_cfg.checkpoint']
    with pytest.raises(ValueError, match='model.backbone.init_cfg.checkpoint'):
        check_pretrained_set(cfg)


TINY = dict(depths=[3, 3, 9, 3], channels=[8, 8, 16, 16],
            kernel_sizes=[7, 7, 7, 5], form='peripheral', partial_ratio=0.5,
            pos_embed=True, centre_size=3)


def _tiny(cfg):
    """The config's model with a tiny T-depth PeLK (fast to build)."""
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.arch = TINY
    cfg.model.backbone.init_cfg = None
    if 'decode_head' in cfg.model:
        cfg.model.decode_head.in_channels = TINY['channels']
        cfg.model.auxiliary_head.in_channels = TINY['channels'][2]
    else:
        cfg.model.neck.in_channels = TINY['channels']
    return cfg


@pytest.mark.parametrize('name,scope,rate,powers', [
    # Stage-wise, num_layers 6: stem/downsampling 0.9^7, stages 0.9^6..^3.
    (ade_name('pelk-t'), 'mmseg', 0.9, [7, 6, 5, 4, 3, 0]),
    # Layer-wise, ids 0..6 + head: 0.7^7 .. 0.7^0.
    (coco_name('pelk-t'), 'mmdet', 0.7, [7, 6, 5, 4, 3, 2, 1, 0]),
])
def test_optim_wrapper_builds_with_convnext_lr_scales(name, scope, rate,
                                                      powers):
    cfg = _tiny(load(name))
    model = build_model_from_cfg(cfg)
    init_default_scope(scope)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    scales = sorted({round(g['lr'] / base, 6)
                     for g in wrapper.optimizer.param_groups})
    assert scales == sorted(round(rate**k, 6) for k in powers)
    # Heads (and the backbone's output norms) keep the base lr.
    lr = {id(p): g['lr'] for g in wrapper.optimizer.param_groups
          for p in g['params']}
    for pname, p in model.named_parameters():
        if not pname.startswith('backbone.') or \
                pname.startswith('backbone.norm'):
            assert lr[id(p)] == pytest.approx(base), pname
    stem = model.backbone.downsample_layers[0][0].weight
    assert lr[id(stem)] == pytest.approx(base * rate**7)


def test_segmentor_trains_one_step():
    """The PeLK-T ADE20K config (tiny backbone, SyncBN reverted on one CPU
    process by lkmm's build) computes a loss and steps."""
    cfg = _tiny(load(ade_name('pelk-t')))
    cfg.model.backbone.with_cp = False
    model = build_model_from_cfg(cfg)
    model.train()
    init_default_scope('mmseg')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64),
                                        pad_shape=(64, 64),
                                        ori_shape=(64, 64)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, 64, 64)))
        samples.append(s)
    losses = model(torch.randn(2, 3, 64, 64), samples, mode='loss')
    loss, _ = model.parse_losses(losses)
    before = model.backbone.stages[0].pos_embed.weight.detach().clone()
    wrapper.update_params(loss)
    assert torch.isfinite(loss)
    assert not torch.equal(before, model.backbone.stages[0].pos_embed.weight)
