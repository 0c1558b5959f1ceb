"""The ParCNetV2 experiments (ImageNet Sec. 4.2, ablations Table 1, ADE20K
Table 4) as mmpretrain / mmseg configs: recipes field by field, the
ablations' single switch, the UperNet widths and the measured params /
FLOPs of configs/parcnetv2/README.md."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import lkmm  # noqa: F401
from lkmm.analysis import (
    extrapolated_flops,
    inference_complexity,
    to_deploy_form,
)
from lkmm.engine.runner import build_model_from_cfg
from lkmm.models.backbones import ParCNetV2
from lkmm.utils.pretrained import check_pretrained_set, find_unset_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', 'parcnetv2')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CFG_DIR, '*.py')))

C26 = 'parcnetv2-26m_8xb128-300e_in1k.py'
C10 = 'parcnetv2-10m_8xb128-300e_in1k.py'
C10_100 = 'parcnetv2-10m_8xb128-100e_in1k.py'
ABLATIONS = {
    # config: (switch, Table 1 row)
    'parcnetv2-10m-no-oversized_8xb128-100e_in1k.py': ('oversized', 3),
    'parcnetv2-10m-no-bgu_8xb128-100e_in1k.py': ('gated', 4),
    'parcnetv2-10m-no-uniform_8xb128-100e_in1k.py': ('uniform', 5),
}
CLASSIFIERS = [C26, C10, C10_100] + list(ABLATIONS)
UPERNET = 'upernet_parcnetv2-26m_in1k-pre_8xb2-amp-160k_ade20k-512x512.py'
UPERNET_MS = UPERNET.replace('.py', '_ms.py')

# Measured with lkmm.analysis.inference_complexity (configs/parcnetv2/
# README.md): classifier at 224 with the 1000-class head; UperNet deployed,
# no auxiliary head, at 2048x512. (params, FLOPs, paper params).
MEASURED_224 = {
    C26: (25_431_848, 4_800_814_848, 25.6e6),
    C10: (9_649_552, 1_536_712_320, 9.7e6),
    C10_100: (9_649_552, 1_536_712_320, 9.7e6),
    'parcnetv2-10m-no-oversized_8xb128-100e_in1k.py':
    (9_536_296, 1_487_263_872, 9.6e6),
    'parcnetv2-10m-no-bgu_8xb128-100e_in1k.py':
    (9_604_012, 1_524_646_560, 9.7e6),
    'parcnetv2-10m-no-uniform_8xb128-100e_in1k.py':
    (9_623_848, 1_496_521_344, 9.6e6),
}
UPERNET_PARAMS, UPERNET_FLOPS = 54_631_382, 951_931_549_312


def load(name):
    return Config.fromfile(osp.join(CFG_DIR, name))


def flatten(node, prefix=''):
    """Dotted key -> leaf value of a config dict (lists kept as leaves)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(flatten(value, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: node}


def test_all_configs_found():
    assert sorted(CLASSIFIERS + [UPERNET, UPERNET_MS]) == CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_config_loads_with_lkmm_backbone(name):
    cfg = load(name)
    assert cfg.custom_imports['imports'] == ['lkmm']
    model = cfg.model.get('module', cfg.model)
    assert model.backbone.type == 'lkmm.ParCNetV2'
    scope = 'mmseg' if name.startswith('upernet') else 'mmpretrain'
    assert cfg.default_scope == scope


@pytest.mark.parametrize('name', CLASSIFIERS)
def test_imagenet_recipe_follows_paper(name):
    """Sec. 4.2: AdamW lr 5e-4 at batch 1024, weight decay 0.05, betas
    (0.9, 0.999), cosine with warm-up, label smoothing, Mixup, CutMix,
    Random Erasing, EMA; the open details as the README says."""
    cfg = load(name)
    arch = '26m' if name == C26 else '10m'
    backbone = cfg.model.backbone
    assert backbone.arch == arch
    assert backbone.drop_path_rate == (0.2 if arch == '26m' else 0.1)
    assert tuple(backbone.out_indices) == (3, )
    assert backbone.gap_before_final_norm
    assert find_unset_pretrained(cfg.model) == []  # trained from scratch
    head = cfg.model.head
    assert head.type == 'LinearClsHead' and head.num_classes == 1000
    assert head.in_channels == ParCNetV2.arch_zoo[arch]['channels'][-1]
    assert head.loss.type == 'LabelSmoothLoss'
    assert head.loss.label_smooth_val == 0.1
    mix, cut = cfg.model.train_cfg.augments
    assert (mix.type, mix.alpha, cut.type, cut.alpha) == ('Mixup', 0.8,
                                                          'CutMix', 1.0)
    # 8 GPUs x 128 = 1024 images, the paper's batch; lr given for it.
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.auto_scale_lr.base_batch_size == 1024
    wrapper = cfg.optim_wrapper
    assert 'constructor' not in wrapper and wrapper.clip_grad is None
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 5e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999)
    pw = wrapper.paramwise_cfg
    assert pw.norm_decay_mult == pw.bias_decay_mult == pw.flat_decay_mult == 0
    assert pw.custom_keys['.gamma'].decay_mult == 0
    epochs = 300 if '300e' in name else 100
    assert cfg.train_cfg.max_epochs == epochs and cfg.train_cfg.by_epoch
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 20)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cosine.type == 'CosineAnnealingLR'
    assert (cosine.begin, cosine.end, cosine.T_max) == (20, epochs,
                                                        epochs - 20)
    assert cosine.eta_min == 1e-5
    ema = [h for h in cfg.custom_hooks if h.type == 'EMAHook']
    assert len(ema) == 1 and ema[0].momentum == pytest.approx(1e-4)
    steps = {s.type: s for s in cfg.train_dataloader.dataset.pipeline}
    assert steps['RandomResizedCrop'].scale == 224
    assert steps['RandomFlip'].prob == 0.5
    assert steps['RandomErasing'].erase_prob == 0.25
    assert steps['RandAugment'].policies == 'timm_increasing'
    assert cfg.train_dataloader.dataset.type == 'ImageNet'


def test_100_epoch_ablation_base_is_the_10m_recipe_shortened():
    """Table 1 row 2: the 300-epoch 10M recipe, 100 epochs."""
    full, short = flatten(load(C10).to_dict()), flatten(
        load(C10_100).to_dict())
    changed = {k for k in set(full) | set(short)
               if full.get(k, 'missing') != short.get(k, 'missing')}
    assert changed == {'max_epochs', 'train_cfg.max_epochs',
                       'param_scheduler'}, changed


@pytest.mark.parametrize('name', list(ABLATIONS))
def test_ablation_differs_only_in_its_switch(name):
    switch, _ = ABLATIONS[name]
    base = flatten(load(C10_100).to_dict())
    ablation = flatten(load(name).to_dict())
    diff = {k: (base.get(k, 'missing'), ablation.get(k, 'missing'))
            for k in set(base) | set(ablation)
            if base.get(k, 'missing') != ablation.get(k, 'missing')}
    assert diff == {f'model.backbone.{switch}': ('missing', False)}
    model = build_model_from_cfg(load(name))
    assert getattr(model.backbone, switch) is False
    others = {'oversized', 'gated', 'uniform'} - {switch}
    assert all(getattr(model.backbone, s) is True for s in others)


def test_layer_scale_and_norms_get_no_weight_decay():
    """The custom key reaches LayerScale (C, 1, 1) tensors; convs and the
    head keep weight decay 0.05."""
    cfg = load(C10_100)
    model = build_model_from_cfg(cfg)
    init_default_scope('mmpretrain')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay_of = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            decay_of[id(param)] = group['weight_decay']
    block = model.backbone.stages[0].blocks[0]
    assert decay_of[id(block.gamma1)] == 0 and decay_of[id(block.gamma2)] == 0
    assert decay_of[id(model.backbone.norm3.weight)] == 0
    assert decay_of[id(model.head.fc.bias)] == 0
    assert decay_of[id(model.head.fc.weight)] == 0.05
    stem = model.backbone.downsample_layers[0][0]
    assert decay_of[id(stem.weight)] == 0.05
    loss = model(torch.randn(2, 3, 64, 64), mode='tensor').sum()
    wrapper.update_params(loss)


def test_upernet_follows_convnext_recipe():
    """Sec. 4.4: UperNet, 160k iterations, batch 16, ImageNet-1K weights,
    other settings ConvNeXt's (mmseg's stock ConvNeXt-T file, inherited),
    drop path 0.3 (release); stage-wise decay 0.9, num_layers 6."""
    cfg = load(UPERNET)
    backbone = cfg.model.backbone
    assert backbone.arch == '26m' and 'layer_scale_init_value' not in backbone
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.gap_before_final_norm is False
    assert backbone.drop_path_rate == 0.3
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 160000
    wrapper = cfg.optim_wrapper
    assert wrapper.type == 'AmpOptimWrapper' and wrapper.loss_scale == \
        'dynamic'
    assert wrapper.constructor == 'lkmm.LayerDecayOptimWrapperConstructor'
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999)
    pw = wrapper.paramwise_cfg
    assert (pw.decay_rate, pw.decay_type, pw.num_layers) == (0.9,
                                                            'stage_wise', 6)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR',
                                                              1e-6, 1500)
    assert (poly.type, poly.power, poly.eta_min, poly.begin,
            poly.end) == ('PolyLR', 1.0, 0.0, 1500, 160000)
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert head.type == 'UPerHead' and head.channels == 512
    assert tuple(head.pool_scales) == (1, 2, 3, 6)
    assert (aux.type, aux.channels, aux.loss_decode.loss_weight) == (
        'FCNHead', 256, 0.4)
    assert head.num_classes == aux.num_classes == 150
    assert head.norm_cfg.type == 'SyncBN'
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(512, 512),
                                      stride=(341, 341))
    crop = [s for s in cfg.train_dataloader.dataset.pipeline
            if s.type == 'RandomCrop'][0]
    assert tuple(crop.crop_size) == (512, 512)
    assert tuple(cfg.model.data_preprocessor.size) == (512, 512)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'


def test_upernet_head_widths_are_the_backbone_widths():
    cfg = load(UPERNET)
    model = build_model_from_cfg(cfg)
    widths = model.backbone.channels
    assert widths == ParCNetV2.arch_zoo['26m']['channels']
    assert list(cfg.model.decode_head.in_channels) == widths
    aux = cfg.model.auxiliary_head
    assert aux.in_channels == widths[aux.in_index]
    # The stage outputs really have these widths and feed the heads.
    with torch.no_grad():
        feats = model.eval().backbone(torch.randn(1, 3, 64, 64))
        assert [f.shape[1] for f in feats] == widths
        out = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert out.shape[1] == 150


def test_upernet_refuses_to_train_without_pretrained_backbone():
    cfg = load(UPERNET)
    assert find_unset_pretrained(cfg.model) == [
        'model.backbone.init_cfg.checkpoint']
    with pytest.raises(ValueError,
                       match=r'model\.backbone\.init_cfg\.checkpoint'):
        check_pretrained_set(cfg)  # what tools/train.py runs first


def test_upernet_multi_scale_variant():
    ss, ms = load(UPERNET), load(UPERNET_MS)
    assert ms.model.type == 'SegTTAModel'
    assert ms.model.module == ss.model
    tta = ms.test_dataloader.dataset.pipeline[1]
    assert tta.type == 'TestTimeAug'
    scales = [tuple(t.scale) for t in tta.transforms[0]]
    assert scales == [(int(2048 * r), int(512 * r))
                      for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)]
    assert [t.prob for t in tta.transforms[1]] == [0., 1.]
    assert ms.train_cfg == ss.train_cfg


@pytest.mark.slow
@pytest.mark.parametrize('name', list(MEASURED_224))
def test_classifier_params_and_flops(name):
    """The README table: lkmm's counts, and the paper's params within the
    paper's rounding (10M family within 1.2%, 26M within 1%)."""
    params, flops, paper = MEASURED_224[name]
    model = build_model_from_cfg(load(name))
    with torch.no_grad():
        info = inference_complexity(model, (3, 224, 224))
    assert info['params'] == params
    assert info['flops'] == pytest.approx(flops, rel=1e-3)
    gap = 0.012
    assert info['params'] == pytest.approx(paper, rel=gap)


@pytest.mark.slow
def test_upernet_params():
    """Deployed, no auxiliary head: 54.63M (paper 55M)."""
    model = to_deploy_form(build_model_from_cfg(load(UPERNET)))
    params = sum(p.numel() for p in model.parameters())
    assert params == UPERNET_PARAMS
    assert params == pytest.approx(55e6, rel=0.01)


@pytest.mark.slow
def test_upernet_flops_at_2048x512_extrapolated():
    """The Table 4 row in the default run: the oversized kernels grow with
    the map (2H-1 taps), so the count is a cubic in the input scale;
    counted at 32x128 .. 128x512 and extrapolated (about 30 s instead of a
    minute and more): 951.9338G against the full count's 951.9315G."""
    model = build_model_from_cfg(load(UPERNET))
    with torch.no_grad():
        info = extrapolated_flops(model, (3, 512, 2048),
                                  exponents=(0, 1, 2, 3))
    assert info['flops'] == pytest.approx(UPERNET_FLOPS, rel=1e-5)
    assert info['flops'] == pytest.approx(946e9, rel=0.015)


@pytest.mark.heavy
def test_upernet_flops_at_2048x512():
    """Paper Table 4: 946 GFLOPs at (2048, 512); lkmm 951.9G (about a
    minute on one CPU core)."""
    model = build_model_from_cfg(load(UPERNET))
    with torch.no_grad():
        info = inference_complexity(model, (3, 512, 2048))
    assert info['params'] == UPERNET_PARAMS
    assert info['flops'] == pytest.approx(UPERNET_FLOPS, rel=1e-3)
    assert info['flops'] == pytest.approx(946e9, rel=0.015)


def test_upernet_stage_wise_lrs_and_decay():
    """The built optimizer: stem and downsampling at 0.9^7, stage i at
    0.9^(6-i), heads 1; no weight decay on LayerScale and norms."""
    cfg = load(UPERNET)
    cfg.model.backbone.init_cfg = None
    model = build_model_from_cfg(cfg)
    wrapper_cfg = cfg.optim_wrapper.to_dict()
    wrapper_cfg['type'] = 'OptimWrapper'  # AMP needs a GPU
    wrapper_cfg.pop('loss_scale')
    optim = build_optim_wrapper(model, wrapper_cfg).optimizer
    lr_of, wd_of = {}, {}
    for group in optim.param_groups:
        for param in group['params']:
            lr_of[id(param)] = group['lr'] / 1e-4
            wd_of[id(param)] = group['weight_decay']
    backbone = model.backbone
    assert lr_of[id(backbone.downsample_layers[0][0].weight)] == \
        pytest.approx(0.9**7)
    assert lr_of[id(backbone.downsample_layers[2][1].weight)] == \
        pytest.approx(0.9**7)
    for i in range(4):
        block = backbone.stages[i].blocks[0]
        assert lr_of[id(block.gamma1)] == pytest.approx(0.9**(6 - i))
        assert wd_of[id(block.gamma1)] == 0
    assert lr_of[id(backbone.norm3.weight)] == pytest.approx(1.)
    assert lr_of[id(model.decode_head.conv_seg.weight)] == pytest.approx(1.)
