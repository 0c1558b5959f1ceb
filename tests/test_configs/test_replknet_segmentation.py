"""The ADE20K and Cityscapes experiments of RepLKNet as mmseg configs.

Recipes are checked field by field against the official release
(RepLKNet-pytorch ``segmentation/configs``) and the paper; the slow tests
count params and FLOPs of the inference model (deployed backbone, no
auxiliary head) at the paper's input shapes. RepLKNet-31B on ADE20K at 512
(``upernet_ade20k.py``) is covered by ``test_all_configs.py``.
"""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

import lkmm  # noqa: F401
from lkmm.analysis import (
    extrapolated_flops,
    inference_complexity,
    to_deploy_form,
)
from lkmm.engine.runner import build_model_from_cfg
from lkmm.utils.pretrained import check_pretrained_set, find_unset_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]

ADE640 = {
    # arch: (config, drop path, backbone channels)
    '31B': ('upernet_replknet-31B_in22k-pre_8xb2-160k_ade20k-640x640.py',
            0.3, [128, 256, 512, 1024]),
    '31L': ('upernet_replknet-31L_in22k-pre_8xb2-160k_ade20k-640x640.py',
            0.3, [192, 384, 768, 1536]),
    'XL': ('upernet_replknet-XL_megdata73m-pre_8xb2-160k_ade20k-640x640.py',
           0.5, [256, 512, 1024, 2048]),
}
KERNELS = ['3', '7', '13', '25', '31']
CITYSCAPES = 'upernet_replknet-31B_in1k-pre_8xb2-80k_cityscapes-769x769.py'


def kernel_config(kernel):
    return f'upernet_replknet-{kernel}_in1k-pre_8xb2-80k_ade20k-512x512.py'


def ms_name(name):
    return name.replace('.py', '_ms.py')


SINGLE_SCALE = ([c for c, _, _ in ADE640.values()] +
                [kernel_config(k) for k in KERNELS] + [CITYSCAPES])
MULTI_SCALE = [ms_name(c) for c, _, _ in ADE640.values()] + [
    ms_name(CITYSCAPES)]


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'replknet', name))


def step(pipeline, kind):
    found = [s for s in pipeline if s.type == kind]
    assert len(found) == 1, f'{kind} in {pipeline}'
    return found[0]


def check_optimizer(cfg, warmup_iters, max_iters):
    """AdamW lr 2e-4 (no AMP, no lr decay), warm-up from 1e-6, poly to 0."""
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'OptimWrapper' and 'constructor' not in wrapper
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999)
    assert wrapper.paramwise_cfg.norm_decay_mult == 0
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.begin,
            warmup.end) == ('LinearLR', 1e-6, 0, warmup_iters)
    assert (poly.type, poly.power, poly.eta_min, poly.begin,
            poly.end) == ('PolyLR', 1.0, 0.0, warmup_iters, max_iters)
    assert not warmup.by_epoch and not poly.by_epoch
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == max_iters


def check_model(cfg, arch, channels, num_classes, drop_path):
    backbone = cfg.model.backbone
    assert backbone.type == 'lkmm.RepLKNet' and backbone.arch == arch
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.drop_path_rate == drop_path
    assert backbone.with_cp and backbone.norm_cfg.type == 'SyncBN'
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert head.type == 'UPerHead' and head.in_channels == channels
    assert head.channels == 512 and tuple(head.pool_scales) == (1, 2, 3, 6)
    assert head.norm_cfg.type == 'SyncBN'
    assert (aux.type, aux.in_index, aux.channels) == ('FCNHead', 2, 256)
    assert aux.in_channels == channels[2]
    assert aux.loss_decode.loss_weight == 0.4
    assert head.num_classes == aux.num_classes == num_classes


@pytest.mark.parametrize('name', SINGLE_SCALE + MULTI_SCALE)
def test_config_name_matches_recipe(name):
    """``8xb2``, the iterations and the crop in the name are the config's."""
    cfg = load(name)
    batch, iters, height, width = re.search(
        r'_8xb(\d+)-(\d+)k_\w+?-(\d+)x(\d+)', name).groups()
    assert cfg.train_dataloader.batch_size == int(batch)
    assert cfg.train_cfg.max_iters == int(iters) * 1000
    crop = step(cfg.train_dataloader.dataset.pipeline, 'RandomCrop')
    assert tuple(crop.crop_size) == (int(height), int(width))
    model = cfg.model.get('module', cfg.model)
    assert tuple(model.data_preprocessor.size) == (int(height), int(width))
    assert cfg.custom_imports['imports'] == ['lkmm']


@pytest.mark.parametrize('arch', list(ADE640))
def test_ade20k_640_follows_official_recipe(arch):
    name, drop_path, channels = ADE640[arch]
    cfg = load(name)
    check_model(cfg, arch, channels, 150, drop_path)
    check_optimizer(cfg, warmup_iters=1500, max_iters=160000)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    # 640 crops of images scaled to 2048x512 x [0.5, 2] (not mmseg's
    # 2560x640 ade20k_640x640 setting).
    train = cfg.train_dataloader.dataset.pipeline
    resize = step(train, 'RandomResize')
    assert tuple(resize.scale) == (2048, 512)
    assert tuple(resize.ratio_range) == (0.5, 2.0) and resize.keep_ratio
    assert step(train, 'RandomCrop').cat_max_ratio == 0.75
    step(train, 'PhotoMetricDistortion')
    test = cfg.test_dataloader.dataset.pipeline
    assert tuple(step(test, 'Resize').scale) == (2048, 512)
    test_cfg = cfg.model.test_cfg
    assert test_cfg.mode == 'slide'
    assert tuple(test_cfg.crop_size) == (640, 640)
    assert tuple(test_cfg.stride) == (426, 426)
    prep = cfg.model.data_preprocessor
    xl = arch == 'XL'
    assert bool(cfg.model.backbone.get('norm_intermediate_features')) == xl
    assert prep.mean == ([127.5] * 3 if xl else IMAGENET_MEAN)
    assert prep.std == ([127.5] * 3 if xl else IMAGENET_STD)
    assert prep.bgr_to_rgb


@pytest.mark.parametrize('kernel', KERNELS)
def test_kernel_study_is_upernet_ade20k_on_80k(kernel):
    """Paper Table 5: the 31B ADE20K recipe with another kernel set, 80k
    iterations; nothing else changes."""
    cfg = load(kernel_config(kernel))
    reference = load('upernet_ade20k.py')
    assert cfg.model.backbone.arch == kernel
    model = cfg.model.to_dict()
    model['backbone']['arch'] = reference.model.backbone.arch
    assert model == reference.model.to_dict()
    check_optimizer(cfg, warmup_iters=1500, max_iters=80000)
    assert cfg.train_cfg.val_interval == 8000
    assert cfg.default_hooks.checkpoint.interval == 8000
    assert (cfg.train_dataloader.to_dict() ==
            reference.train_dataloader.to_dict())
    assert (cfg.test_dataloader.to_dict() ==
            reference.test_dataloader.to_dict())


def test_cityscapes_follows_official_recipe():
    cfg = load(CITYSCAPES)
    check_model(cfg, '31B', [128, 256, 512, 1024], 19, 0.5)
    assert cfg.model.decode_head.align_corners
    assert cfg.model.auxiliary_head.align_corners
    # The release's 400 warm-up iterations of 20k, on 80k.
    check_optimizer(cfg, warmup_iters=1600, max_iters=80000)
    assert cfg.train_dataloader.dataset.type == 'CityscapesDataset'
    train = cfg.train_dataloader.dataset.pipeline
    resize = step(train, 'RandomResize')
    assert tuple(resize.scale) == (2049, 1025)
    assert tuple(resize.ratio_range) == (0.5, 2.0)
    test = cfg.test_dataloader.dataset.pipeline
    assert tuple(step(test, 'Resize').scale) == (2049, 1025)
    assert cfg.model.test_cfg.mode == 'whole'
    prep = cfg.model.data_preprocessor
    assert (prep.mean, prep.std) == (IMAGENET_MEAN, IMAGENET_STD)


@pytest.mark.parametrize('name', MULTI_SCALE)
def test_multi_scale_variant(name):
    """``_ms``: the single-scale model in SegTTAModel, 6 scales x 2 flips."""
    cfg, single = load(name), load(name.replace('_ms.py', '.py'))
    assert cfg.model.type == 'SegTTAModel'
    assert cfg.model.module.to_dict() == single.model.to_dict()
    assert cfg.train_dataloader.to_dict() == single.train_dataloader.to_dict()
    load_img, tta = cfg.test_dataloader.dataset.pipeline
    assert load_img.type == 'LoadImageFromFile' and tta.type == 'TestTimeAug'
    resizes, flips = tta.transforms[0], tta.transforms[1]
    ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    if 'cityscapes' in name:
        # The 2048x1024 images scaled directly (= ratios of 2049x1025).
        assert [r.scale_factor for r in resizes] == ratios
    else:
        # Ratios of the 2048x512 test scale, as the release's
        # MultiScaleFlipAug.
        assert [tuple(r.scale) for r in resizes] == [
            (int(2048 * r), int(512 * r)) for r in ratios]
    assert all(r.keep_ratio for r in resizes)
    assert [f.prob for f in flips] == [0., 1.]


@pytest.mark.parametrize('name', SINGLE_SCALE)
def test_training_refuses_without_pretrained_backbone(name):
    cfg = load(name)
    init = cfg.model.backbone.init_cfg
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    assert find_unset_pretrained(cfg.model) == [
        'model.backbone.init_cfg.checkpoint']
    with pytest.raises(ValueError, match='model.backbone.init_cfg.checkpoint'):
        check_pretrained_set(cfg)


def test_xl_stage_wise_decay_variant_builds(tmp_path):
    """The paper's XL variant the XL config describes (stage-wise lr decay
    through lkmm.LayerDecayOptimWrapperConstructor) builds as written."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    path = osp.join(REPO, 'configs', 'replknet', ADE640['XL'][0])
    child = tmp_path / 'xl_stage_wise.py'
    child.write_text(
        f'_base_ = {path!r}\n'
        'optim_wrapper = dict(\n'
        "    constructor='lkmm.LayerDecayOptimWrapperConstructor',\n"
        "    paramwise_cfg=dict(_delete_=True, decay_type='stage_wise',\n"
        '                       decay_rate=0.4))\n')
    cfg = Config.fromfile(str(child))
    model = build_model_from_cfg(cfg)
    init_default_scope('mmseg')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    scales = sorted({round(g['lr'] / 2e-4, 6)
                     for g in wrapper.optimizer.param_groups})
    assert scales == [round(0.4**i, 6) for i in (4, 3, 2, 1, 0)]


# Paper numbers. Params: the inference model (deployed backbone, no
# auxiliary head), as the paper counts them.
PAPER_PARAMS = {
    ADE640['31B'][0]: (112e6, 0.01),
    ADE640['31L'][0]: (207e6, 0.01),
    ADE640['XL'][0]: (374e6, 0.01),
    # Paper Table 7 says 110M; the official architecture (RepLKNet-31B with
    # stock UperNet, 19 classes) measures 111.8M, as lkmm does: 110M does
    # not reproduce, hence 2%.
    CITYSCAPES: (110e6, 0.02),
    kernel_config('3'): (104.1e6, 0.01),
    kernel_config('7'): (104.6e6, 0.01),
    kernel_config('13'): (106.0e6, 0.01),
    kernel_config('25'): (110.6e6, 0.01),
    kernel_config('31'): (111.7e6, 0.01),
}
# FLOPs at the paper's shape (C, H, W). Kernel '31' is upernet_ade20k.py's
# model, counted in test_all_configs.py.
PAPER_FLOPS = {
    ADE640['31B'][0]: (1829e9, (3, 640, 2560)),
    ADE640['31L'][0]: (2404e9, (3, 640, 2560)),
    ADE640['XL'][0]: (3431e9, (3, 640, 2560)),
    CITYSCAPES: (2315e9, (3, 1024, 2048)),
    kernel_config('3'): (1119e9, (3, 512, 2048)),
    kernel_config('7'): (1123e9, (3, 512, 2048)),
    kernel_config('13'): (1130e9, (3, 512, 2048)),
    kernel_config('25'): (1159e9, (3, 512, 2048)),
}


@pytest.mark.slow
@pytest.mark.parametrize('name', list(PAPER_PARAMS))
def test_params_match_paper(name):
    expected, rel = PAPER_PARAMS[name]
    model = to_deploy_form(build_model_from_cfg(load(name)))
    assert model.auxiliary_head is None
    params = sum(p.numel() for p in model.parameters())
    print(f'{name}: {params / 1e6:.2f}M params (paper {expected / 1e6}M)')
    assert params == pytest.approx(expected, rel=rel)


# lkmm's full counts at the paper's shapes (the heavy test below, and the
# tables of configs/replknet/README.md).
MEASURED_FLOPS = {
    ADE640['31B'][0]: 1830.6e9,
    ADE640['31L'][0]: 2406.7e9,
    ADE640['XL'][0]: 3410.9e9,
    CITYSCAPES: 2334.4e9,
    kernel_config('3'): 1121.2e9,
    kernel_config('7'): 1123.8e9,
    kernel_config('13'): 1131.6e9,
    kernel_config('25'): 1160.2e9,
}


@pytest.mark.slow
@pytest.mark.parametrize('name', list(PAPER_FLOPS))
def test_flops_match_paper_extrapolated(name):
    """Every README row in the default run: counted at two small sizes
    and extrapolated in area (exact for these models: checked against the
    full count in test_all_configs.py), about 20 s a row; the paper +-3%
    and lkmm's full count to its printed digits."""
    expected, shape = PAPER_FLOPS[name]
    model = build_model_from_cfg(load(name))
    with torch.no_grad():
        info = extrapolated_flops(model, shape)
    print(f'{name}: {info["flops_str"]} FLOPs at {shape[2]}x{shape[1]} '
          f'from {list(info["probes"])} (paper {expected / 1e9:.0f}G)')
    assert info['flops'] == pytest.approx(expected, rel=0.03)
    assert info['flops'] == pytest.approx(MEASURED_FLOPS[name], abs=0.05e9)
    assert info['flops'] == pytest.approx(MEASURED_FLOPS[name], abs=0.05e9)


@pytest.mark.heavy
@pytest.mark.parametrize('name', list(PAPER_FLOPS))
def test_flops_match_paper(name):
    """1.5-4 minutes each on a 2-core CPU (XL: up to 9), about 25 minutes
    for the set, hence not in the default run: ``pytest -m heavy``. The
    default run counts 31B at 2048x512 (test_all_configs.py)."""
    expected, shape = PAPER_FLOPS[name]
    model = build_model_from_cfg(load(name))
    with torch.no_grad():
        info = inference_complexity(model, shape)
    print(f'{name}: {info["flops_str"]} FLOPs at {shape[2]}x{shape[1]} '
          f'(paper {expected / 1e9:.0f}G)')
    assert info['flops'] == pytest.approx(expected, rel=0.03)
