"""PeLK / SLaK / ConvNeXt-31 ImageNet configs (configs/pelk/*in1k*.py).

The recipes field by field (SLaK's for PeLK and SLaK, ConvNeXt's 384
fine-tune, RepLKNet's 120-epoch one for ConvNeXt-31), and the ablations of
PeLK Tables 1, 5, 6 and 7 against their reference configs: each must differ
in the intended field only. test_all_configs.py builds every model.
"""
import glob
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg
from lkmm.engine.sparsity import SparseMasks, count_nonzero_params
from lkmm.layers.peripheral_conv import (
    half_sharing_grid,
    make_sharing_grid,
    parse_sharing_grid,
)
from lkmm.models.backbones.large_kernel_convnext import LargeKernelConvNeXt
from lkmm.registry import HOOKS
from lkmm.utils.pretrained import check_pretrained_set, find_unset_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PELK = osp.join(REPO, 'configs', 'pelk')
# The ImageNet configs (the downstream ones end in _ade20k-..., _coco).
NAMES = sorted(
    osp.basename(p) for p in glob.glob(osp.join(PELK, '*.py'))
    if re.search(r'_in1k(-384px)?\.py$', p))

# Top-level helper variables of the configs (not part of the recipe).
HELPERS = ('grid', 'grid_13_dense', 'img_size', 'bgr_mean', 'bgr_std',
           'decay_rate', 'num_layers', 'layer_ids', 'warmup_epochs',
           'max_epochs')


def load(name):
    return Config.fromfile(osp.join(PELK, name))


def arch_of(cfg):
    return LargeKernelConvNeXt.parse_arch(cfg.model.backbone.arch)


def arch_diff(a, b):
    a, b = arch_of(a), arch_of(b)
    return {k for k in a if a[k] != b[k]}


def recipe(cfg, drop=()):
    """The config as a dict without the backbone arch, helper variables and
    the given dotted keys."""
    d = cfg.to_dict()
    d['model']['backbone'].pop('arch')
    for key in HELPERS:
        d.pop(key, None)
    for key in drop:
        *parents, last = key.split('.')
        node = d
        for p in parents:
            node = node[p]
        node.pop(last, None)
    return d


def hooks(cfg):
    return {h['type']: h for h in cfg.get('custom_hooks', [])}


def total_batch(name, cfg):
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', name).groups())
    assert cfg.train_dataloader.batch_size == per_gpu, name
    return gpus * per_gpu


def schedulers(cfg):
    *warmup, cosine = cfg.param_scheduler
    assert cosine.type == 'CosineAnnealingLR'
    assert cosine.end == cfg.train_cfg.max_epochs
    assert cosine.T_max == cosine.end - cosine.begin
    assert all(s.convert_to_iter_based for s in cfg.param_scheduler)
    if warmup:
        (warmup, ) = warmup
        assert warmup.type == 'LinearLR' and warmup.begin == 0
        assert warmup.end == cosine.begin
        return warmup.end, cosine
    assert cosine.begin == 0
    return 0, cosine


def check_augmentation(pipeline, side):
    steps = {step.type: step for step in pipeline}
    assert steps['RandomResizedCrop'].scale == side
    aug = steps['RandAugment']
    assert (aug.policies, aug.num_policies, aug.magnitude_level,
            aug.magnitude_std) == ('timm_increasing', 2, 9, 0.5)
    assert steps['RandomErasing'].erase_prob == 0.25


def test_configs_found():
    assert len(NAMES) == 30
    assert 'pelk-t_32xb128-300e_in1k.py' in NAMES


@pytest.mark.parametrize('name', NAMES)
def test_common_layout(name):
    """mmpretrain scope, lkmm backbone, no neck, head on the last width,
    ImageNet data, the SLaK / RepLKNet regularization."""
    cfg = load(name)
    assert cfg.custom_imports['imports'] == ['lkmm']
    assert cfg.default_scope == 'mmpretrain'
    model = cfg.model
    assert model.type == 'ImageClassifier'
    assert model.backbone.type == 'lkmm.LargeKernelConvNeXt'
    assert model.backbone.gap_before_final_norm
    assert tuple(model.backbone.out_indices) == (3, )
    assert model.get('neck') is None  # the backbone pools and norms
    assert model.head.type == 'LinearClsHead'
    assert model.head.num_classes == 1000
    assert model.head.in_channels == arch_of(cfg)['channels'][-1]
    assert model.head.loss.label_smooth_val == 0.1
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and tuple(opt.betas) == (0.9, 0.999)
    pw = cfg.optim_wrapper.paramwise_cfg
    assert pw.norm_decay_mult == pw.bias_decay_mult == pw.flat_decay_mult == 0
    # No stock Swin keys left over.
    assert not any('absolute_pos_embed' in k or 'relative_position' in k
                   for k in pw.get('custom_keys', {}))
    # The batch split in the name is the config's, and lr scaling refers to
    # that total batch.
    assert cfg.auto_scale_lr.base_batch_size == total_batch(name, cfg)
    # Every hook config builds (arguments validated).
    for hook in cfg.get('custom_hooks', []):
        if hook.type.startswith('lkmm.'):
            HOOKS.build(dict(hook))
    # Sparsity before EMA: the average sees masked weights.
    types = [h.type for h in cfg.get('custom_hooks', [])]
    if 'lkmm.DynamicSparsityHook' in types and 'EMAHook' in types:
        assert types.index('lkmm.DynamicSparsityHook') < types.index(
            'EMAHook')


# config, arch, drop path, sparsity update interval, prune rate
PRETRAIN_300E = [
    ('pelk-t_32xb128-300e_in1k.py', 'pelk-t', 0.1, 2000, 0.5),
    ('pelk-s_64xb64-300e_in1k.py', 'pelk-s', 0.4, 100, 0.3),
    ('pelk-b_128xb32-300e_in1k.py', 'pelk-b', 0.5, 100, 0.3),
    ('pelk-b-101_128xb32-300e_in1k.py', 'pelk-b-101', 0.5, 100, 0.3),
    ('slak-t_32xb128-300e_in1k.py', 'slak-t', 0.1, 2000, 0.5),
    ('slak-s_64xb64-300e_in1k.py', 'slak-s', 0.4, 100, 0.3),
    ('slak-b_128xb32-300e_in1k.py', 'slak-b', 0.5, 100, 0.3),
]


def check_slak_recipe(name, cfg, epochs):
    assert total_batch(name, cfg) == 4096
    opt = cfg.optim_wrapper.optimizer
    assert (opt.lr, opt.weight_decay) == (4e-3, 0.05)
    assert cfg.auto_scale_lr.base_batch_size == 4096
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert cfg.train_cfg.max_epochs == epochs
    warmup, cosine = schedulers(cfg)
    assert warmup == 20 and cosine.eta_min == 1e-6
    assert cfg.param_scheduler[0].start_factor == 1e-3
    check_augmentation(cfg.train_dataloader.dataset.pipeline, 224)
    test = {s.type: s for s in cfg.test_dataloader.dataset.pipeline}
    assert test['ResizeEdge'].scale == 256 and test['CenterCrop'].crop_size \
        == 224
    mix, cut = cfg.model.train_cfg.augments
    assert (mix.type, mix.alpha, cut.type, cut.alpha) == ('Mixup', 0.8,
                                                          'CutMix', 1.0)
    ema = hooks(cfg)['EMAHook']
    assert ema.momentum == pytest.approx(1e-4)
    assert ema.priority == 'ABOVE_NORMAL'


@pytest.mark.parametrize('name,arch,drop_path,interval,rate',
                         PRETRAIN_300E)
def test_300e_recipe(name, arch, drop_path, interval, rate):
    cfg = load(name)
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.drop_path_rate == drop_path
    check_slak_recipe(name, cfg, 300)
    sparse = hooks(cfg)['lkmm.DynamicSparsityHook']
    assert (sparse.sparsity, sparse.init, sparse.update_interval,
            sparse.prune_rate, sparse.rate_decay) == (0.4, 'snip', interval,
                                                      rate, 'cosine')
    # Updates and rate decay run to the end of training (SLaK).
    assert sparse.get('stop_iter') is None


@pytest.mark.parametrize('pelk,slak', [(PRETRAIN_300E[i][0],
                                        PRETRAIN_300E[i + 4][0])
                                       for i in range(3)])
def test_slak_baselines_share_the_pelk_recipe(pelk, slak):
    pelk, slak = load(pelk), load(slak)
    assert recipe(pelk) == recipe(slak)
    assert arch_of(slak)['form'] == 'stripe'
    assert arch_of(pelk)['form'] == 'peripheral'


def test_pelk_b_101_differs_from_pelk_b_in_kernels_only():
    b = load('pelk-b_128xb32-300e_in1k.py')
    b101 = load('pelk-b-101_128xb32-300e_in1k.py')
    assert recipe(b) == recipe(b101)
    assert arch_diff(b, b101) == {'kernel_sizes', 'centre_size'}
    assert arch_of(b101)['kernel_sizes'] == [101, 69, 67, 13]
    assert arch_of(b101)['centre_size'] == 7


# ConvNeXt's layer ids (optim_factory.get_num_layer_for_convnext), 14 ids.
def convnext_layer_id(name):
    parts = name.split('.')
    if not name.startswith('backbone.') or parts[1] not in (
            'downsample_layers', 'stages'):
        return 13
    stage = int(parts[2])
    if parts[1] == 'downsample_layers':
        return {0: 0, 1: 2, 2: 3, 3: 12}[stage]
    if stage in (0, 1):
        return stage + 1
    if stage == 3:
        return 12
    if parts[3] == 'pos_embed':
        return 3
    return 3 + int(parts[4]) // 3


@pytest.mark.parametrize('name,arch', [
    ('pelk-b_in1k-pre_16xb32-30e_in1k-384px.py', 'pelk-b'),
    ('pelk-b-101_in1k-pre_16xb32-30e_in1k-384px.py', 'pelk-b-101'),
])
def test_384_finetune_recipe(name, arch):
    """ConvNeXt-B's ImageNet-1K 224 -> 384 fine-tune, sparsity kept."""
    cfg = load(name)
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.drop_path_rate == 0.8
    assert cfg.model.train_cfg is None  # no Mixup / CutMix
    assert total_batch(name, cfg) == 512 == cfg.auto_scale_lr.base_batch_size
    opt = cfg.optim_wrapper.optimizer
    assert (opt.lr, opt.weight_decay) == (5e-5, 1e-8)
    assert cfg.train_cfg.max_epochs == 30
    warmup, cosine = schedulers(cfg)
    assert warmup == 0
    assert cosine.eta_min_ratio == pytest.approx(1e-6 / 5e-5)
    check_augmentation(cfg.train_dataloader.dataset.pipeline, 384)
    test = {s.type: s for s in cfg.test_dataloader.dataset.pipeline}
    assert test['Resize'].scale == 384 and 'CenterCrop' not in test
    assert 'EMAHook' not in hooks(cfg)
    sparse = hooks(cfg)['lkmm.DynamicSparsityHook']
    assert (sparse.sparsity, sparse.init, sparse.snip_positions,
            sparse.stop_iter, sparse.load_masks) == (0.4, 'snip', 'score', 1,
                                                     True)
    # load_from (the same checkpoint) brings the exact masks to the hook.
    assert 'load_from' in cfg and cfg.load_from is None
    # The 224 classifier is required.
    assert find_unset_pretrained(cfg.model) == ['model.init_cfg.checkpoint']
    with pytest.raises(ValueError, match=r'model\.init_cfg\.checkpoint'):
        check_pretrained_set(cfg)


def test_384_layer_decay_groups():
    """The custom keys give every parameter ConvNeXt's layer-wise lr
    (0.7 ** (13 - id)); checked on a narrow 3-3-27-3 stand-in."""
    cfg = tiny(load('pelk-b_in1k-pre_16xb32-30e_in1k-384px.py'),
               depths=(3, 3, 27, 3))
    model = build_model_from_cfg(cfg)
    init_default_scope('mmpretrain')
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr_of = {}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            lr_of[id(param)] = group['lr']
    base = cfg.optim_wrapper.optimizer.lr
    names = dict(model.named_parameters())
    assert 'backbone.stages.2.pos_embed.weight' in names
    for pname, param in names.items():
        expected = base * 0.7**(13 - convnext_layer_id(pname))
        assert lr_of[id(param)] == pytest.approx(expected), pname
    assert lr_of[id(model.head.fc.weight)] == pytest.approx(base)
    assert lr_of[id(model.backbone.norm3.weight)] == pytest.approx(base)


def tiny(cfg, depths=(1, 1, 2, 1)):
    """A small stand-in of the config's backbone (same form and options)."""
    cfg.model.backbone.arch = dict(
        arch_of(cfg), depths=list(depths), channels=[8, 16, 24, 32],
        kernel_sizes=[9, 7, 7, 5])
    cfg.model.head.in_channels = 32
    return cfg


def sparse_224_checkpoint(tmp_path, loss_fn):
    """A small PeLK-B stand-in, 40% sparse after SNIP as the 224 run's
    DynamicSparsityHook leaves it, saved as a runner checkpoint."""
    torch.manual_seed(0)
    pre = build_model_from_cfg(tiny(load('pelk-b_128xb32-300e_in1k.py')))
    pre.init_weights()
    masks = SparseMasks(pre, sparsity=0.4)
    masks.init('snip', loss_fn=loss_fn,
               generator=torch.Generator().manual_seed(1))
    assert masks.selected_density() == pytest.approx(0.6, abs=1e-3)
    path = str(tmp_path / 'pelk_224.pth')
    checkpoint = dict(state_dict=pre.state_dict(),
                      lkmm_sparsity=masks.state_dict())
    torch.save(checkpoint, path)
    return pre, masks, path, checkpoint


def finetune_model(path, drop_path=None):
    cfg = tiny(load('pelk-b_in1k-pre_16xb32-30e_in1k-384px.py'))
    assert cfg.model.init_cfg == dict(type='Pretrained', checkpoint=None)
    cfg.model.init_cfg.checkpoint = path
    if drop_path is not None:
        cfg.model.backbone.drop_path_rate = drop_path
    check_pretrained_set(cfg)  # set: no error
    model = build_model_from_cfg(cfg)
    model.init_weights()
    return cfg, model


def test_384_finetune_restores_the_224_masks(tmp_path):
    """The documented path (model.init_cfg.checkpoint=CKPT load_from=CKPT):
    init_cfg loads the 224 classifier, the runner hands the checkpoint to the
    hook (after_load_checkpoint), which restores its masks exactly."""
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([3, 7])
    pre, masks, path, checkpoint = sparse_224_checkpoint(
        tmp_path, lambda m: F.cross_entropy(m(x, mode='tensor'), y))
    cfg, model = finetune_model(path)
    for (name, a), b in zip(pre.state_dict().items(),
                            model.state_dict().values()):
        assert torch.equal(a, b), name
    hook = HOOKS.build(dict(hooks(cfg)['lkmm.DynamicSparsityHook']))
    runner = SimpleNamespace(model=model, optim_wrapper=None, hooks=[],
                             logger=MMLogger.get_current_instance(),
                             iter=0, max_iters=10, seed=0)
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    assert set(hook.masks.masks) == set(masks.masks)
    for pname, mask in masks.masks.items():
        assert torch.equal(hook.masks.masks[pname], mask), pname
    # Fixed pattern: no update at any iteration (stop_iter=1).
    assert hook._stop(runner) == 1


def test_384_finetune_fallback_recovers_the_pattern(tmp_path):
    """Without load_from: SNIP with snip_positions='score' on the loaded
    weights keeps every weight that was non-zero (when no gradient vanishes
    on the SNIP batch: drop path off here), minus the surplus of the layers
    the 224 SNIP left dense."""
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([3, 7])

    def loss_fn(m):
        return F.cross_entropy(m(x, mode='tensor'), y)

    _, trained, path, _ = sparse_224_checkpoint(tmp_path, loss_fn)
    cfg, model = finetune_model(path, drop_path=0.)
    params = dict(model.named_parameters())
    before = {n: params[n].detach() != 0 for n in trained.candidates}
    nonzero = count_nonzero_params(model)
    hook = hooks(cfg)['lkmm.DynamicSparsityHook']
    recovered = SparseMasks(model, sparsity=hook.sparsity)
    recovered.init(hook.init, loss_fn=loss_fn,
                   snip_positions=hook.snip_positions)
    # Nothing masked in the 224 run comes back ...
    for pname, was_nonzero in before.items():
        mask = recovered.masks.get(pname)
        if mask is not None:
            assert not (mask & ~was_nonzero).any(), pname
    # ... and the only non-zero weights lost are the surplus of the layers
    # SNIP left dense in the 224 run (allocated >= 0.99; here the
    # downsampling convs): the active count above round(0.6 * selected).
    selected = sum(params[n].numel() for n in trained.candidates)
    active = sum(int(m.sum()) for m in before.values())
    surplus = active - round(0.6 * selected)
    assert 0 < surplus < 1e-3 * selected
    assert nonzero - count_nonzero_params(model) == surplus


# ---------------------------------------------------------------- ablations
ABLATION_BASE = 'pelk-t_no-sparsity_32xb128-120e_in1k.py'


def test_ablation_reference_is_pelk_t_without_sparsity():
    cfg = load(ABLATION_BASE)
    assert arch_of(cfg) == LargeKernelConvNeXt.parse_arch('pelk-t')
    assert cfg.model.backbone.drop_path_rate == 0.1
    check_slak_recipe(ABLATION_BASE, cfg, 120)
    assert set(hooks(cfg)) == {'EMAHook'}  # no dynamic sparsity
    # Only the schedule and the hooks differ from the 300-epoch PeLK-T.
    full = load('pelk-t_32xb128-300e_in1k.py')
    drop = ('param_scheduler', 'train_cfg', 'custom_hooks')
    assert recipe(cfg, drop) == recipe(full, drop)


# Table 6: centre size -> (printed K=51 half grid, centre area ratio %).
TABLE6 = {1: ([11, 8, 4, 2, 1], 0.04), 3: ([10, 8, 4, 2, 1, 1], 0.35),
          5: ([9, 8, 4, 2, 1, 1, 1], 0.96),
          7: ([8, 8, 4, 2, 1, 1, 1, 1], 1.88)}


@pytest.mark.parametrize('centre', [1, 3, 7])
def test_table6_centre_size(centre):
    base, cfg = load(ABLATION_BASE), load(
        f'pelk-t_centre{centre}_32xb128-120e_in1k.py')
    assert recipe(cfg) == recipe(base)
    assert arch_diff(base, cfg) == {'centre_size'}
    assert arch_of(cfg)['centre_size'] == centre
    assert arch_of(cfg)['pos_embed']  # Table 6 uses the embedding
    grid, ratio = TABLE6[centre]
    assert half_sharing_grid(make_sharing_grid(51, centre)) == grid
    assert 100 * centre**2 / 51**2 == pytest.approx(ratio, abs=0.005)
    # The reference config is the 5x5 row.
    assert half_sharing_grid(make_sharing_grid(
        51, arch_of(base)['centre_size'])) == TABLE6[5][0]


# Table 5: config key -> (row, half grid, Param column).
TABLE5 = {
    'dense': (1, [1] * 17, 1.00),
    'fixed2': (2, [2] * 8 + [1], 0.27),
    'fixed2-c5': (3, [2] * 7 + [1, 1, 1], 0.33),
    'fixed4-c5': (4, [4, 4, 4, 2, 1, 1, 1], 0.16),
    'exp': (5, [8, 4, 2, 1, 1, 1], 0.11),
    'inverted': (6, [1, 1, 2, 4, 8, 1], 0.11),
}


def test_table5_reference_row():
    base = load(ABLATION_BASE)
    exp = load('pelk-t_grid33-exp_32xb128-120e_in1k.py')
    assert recipe(exp) == recipe(base)
    assert arch_diff(base, exp) == {'kernel_sizes', 'pos_embed',
                                    'sharing_grids'}
    arch = arch_of(exp)
    assert arch['kernel_sizes'] == [33, 33, 33, 13]
    assert not arch['pos_embed']  # "No kernel-wise positional embedding"
    # Row 5 is PeLK's own exponential grid at K=33.
    assert arch['sharing_grids'][0] == half_sharing_grid(
        make_sharing_grid(33, 5))


@pytest.mark.parametrize('key', sorted(TABLE5))
def test_table5_sharing_grids(key):
    row, grid, param_ratio = TABLE5[key]
    ref = load('pelk-t_grid33-exp_32xb128-120e_in1k.py')
    cfg = load(f'pelk-t_grid33-{key}_32xb128-120e_in1k.py')
    assert recipe(cfg) == recipe(ref)
    if key != 'exp':
        assert arch_diff(ref, cfg) == {'sharing_grids'}
    grids = arch_of(cfg)['sharing_grids']
    assert grids[:3] == [grid] * 3
    assert grids[3] == [1] * 7  # dense 13x13 in the last stage, every row
    full = parse_sharing_grid(grid, 33)
    assert len(full) ** 2 / 33**2 == pytest.approx(param_ratio, abs=0.006)


def test_table5_row3_as_printed_does_not_fit_33():
    with pytest.raises(ValueError, match='does not fit'):
        parse_sharing_grid([2] * 8 + [1, 1, 1], 33)


@pytest.mark.parametrize('name,kernels,centre', [
    ('pelk-101-t_no-sparsity_32xb128-120e_in1k.py', [101, 69, 67, 13], 7),
    ('pelk-151-t_no-sparsity_32xb128-120e_in1k.py', [151, 89, 87, 13], 9),
])
def test_table7_kernel_configuration(name, kernels, centre):
    base, cfg = load(ABLATION_BASE), load(name)
    assert recipe(cfg) == recipe(base)
    assert arch_diff(base, cfg) == {'kernel_sizes', 'centre_size'}
    assert arch_of(cfg)['kernel_sizes'] == kernels
    assert arch_of(cfg)['centre_size'] == centre


@pytest.mark.parametrize('name', [
    'pelk-t_no-sparsity_32xb128-120e_in1k.py',
    'pelk-101-t_no-sparsity_32xb128-120e_in1k.py',
    'pelk-151-t_no-sparsity_32xb128-120e_in1k.py',
])
def test_table7_384_differs_in_resolution_only(name):
    cfg224 = load(name)
    cfg384 = load(name.replace('_in1k.py', '_in1k-384px.py'))
    assert arch_of(cfg224) == arch_of(cfg384)
    check_augmentation(cfg384.train_dataloader.dataset.pipeline, 384)
    test = {s.type: s for s in cfg384.test_dataloader.dataset.pipeline}
    assert test['Resize'].scale == 384 and 'CenterCrop' not in test
    drop = ('train_dataloader.dataset.pipeline',
            'val_dataloader.dataset.pipeline',
            'test_dataloader.dataset.pipeline', 'train_pipeline',
            'test_pipeline')
    assert recipe(cfg384, drop) == recipe(cfg224, drop)
    # Apart from the crop size, the training augmentation is the same.
    aug224 = [s for s in cfg224.train_dataloader.dataset.pipeline
              if s.type != 'RandomResizedCrop']
    aug384 = [s for s in cfg384.train_dataloader.dataset.pipeline
              if s.type != 'RandomResizedCrop']
    assert aug224 == aug384


def test_table1_dense_vs_stripe_with_sparsity():
    slak = load('slak-t_32xb128-120e_in1k.py')
    replk = load('replk-51-t_32xb128-120e_in1k.py')
    check_slak_recipe('slak-t_32xb128-120e_in1k.py', slak, 120)
    sparse = hooks(slak)['lkmm.DynamicSparsityHook']
    assert (sparse.sparsity, sparse.update_interval,
            sparse.prune_rate) == (0.4, 2000, 0.5)
    assert recipe(slak) == recipe(replk)
    assert arch_diff(slak, replk) == {'form'}
    assert arch_of(replk)['form'] == 'dense'
    assert arch_of(slak) == LargeKernelConvNeXt.parse_arch('slak-t')
    # Only the schedule differs from the 300-epoch SLaK-T.
    full = load('slak-t_32xb128-300e_in1k.py')
    drop = ('param_scheduler', 'train_cfg')
    assert recipe(slak, drop) == recipe(full, drop)


def test_table1_without_sparsity():
    slak = load('slak-t_32xb128-120e_in1k.py')
    slak_dense = load('slak-t_no-sparsity-w1x_32xb128-120e_in1k.py')
    replk_dense = load('replk-51-t_no-sparsity-w1x_32xb128-120e_in1k.py')
    # w/o sparsity: no hook, ConvNeXt-T width (SLaK's 1.3x goes with
    # sparsity), nothing else.
    assert set(hooks(slak_dense)) == {'EMAHook'}
    assert hooks(slak_dense)['EMAHook'] == hooks(slak)['EMAHook']
    assert arch_diff(slak, slak_dense) == {'channels'}
    assert arch_of(slak_dense)['channels'] == [96, 192, 384, 768]
    drop = ('custom_hooks', 'model.head.in_channels')
    assert recipe(slak_dense, drop) == recipe(slak, drop)
    # dense vs stripe without sparsity.
    assert recipe(replk_dense) == recipe(slak_dense)
    assert arch_diff(slak_dense, replk_dense) == {'form'}


@pytest.mark.parametrize('size', ['t', 's'])
def test_convnext_31_follows_replknet_120e_recipe(size):
    name = f'convnext-31-{size}_32xb64-120e_in1k.py'
    cfg = load(name)
    assert cfg.model.backbone.arch == f'convnext-31-{size}'
    arch = arch_of(cfg)
    assert arch['kernel_sizes'] == [31, 29, 27, 13]
    assert arch['channels'] == [96, 192, 384, 768]
    assert arch['depths'] == ([3, 3, 9, 3] if size == 't' else [3, 3, 27, 3])
    assert arch['form'] == 'dense' and arch['small_kernel'] == 5
    assert cfg.model.backbone.drop_path_rate == 0.3
    assert total_batch(name, cfg) == 2048
    assert not cfg.get('custom_hooks')  # no EMA, no sparsity
    replknet = Config.fromfile(osp.join(
        REPO, 'configs', 'replknet', 'replknet-31_32xb64-120e_in1k.py'))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'auto_scale_lr', 'train_dataloader', 'val_dataloader',
                'test_dataloader'):
        assert cfg[key] == replknet[key], key
    assert cfg.model.train_cfg == replknet.model.train_cfg
    assert cfg.model.head.loss == replknet.model.head.loss


# ---------------------------------------- params / FLOPs as papers count
def sparse_counts(name, init='uniform', size=None):
    """``tools/analysis/get_flops.py CONFIG --sparse``: the classifier as
    its DynamicSparsityHook makes it when training starts (40% of every
    selected weight zero), non-zero params and FLOPs of non-zero weights."""
    from lkmm.cli.get_flops import parse_get_flops_args, run_get_flops
    args = [osp.join(REPO, 'configs', 'pelk', name), '--sparse',
            '--sparse-init', init]
    return run_get_flops(parse_get_flops_args(
        args + (['--shape', str(size)] if size else [])))


@pytest.mark.parametrize('name,params,flops,paper_params,paper_flops', [
    ('pelk-t_32xb128-300e_in1k.py', 29_216_380, 5.8714e9, 29e6, 5.6e9),
    ('slak-t_32xb128-300e_in1k.py', 30_390_918, 5.2588e9, 30e6, 5.0e9),
])
def test_sparse_counts_tiny(name, params, flops, paper_params, paper_flops):
    """The README's measured counts (T models; S/B: -m heavy): params
    within 3% of the paper; FLOPs (uniform densities) within 5%."""
    result = sparse_counts(name)
    assert result['nonzero_params'] == params
    assert result['sparse_flops'] == pytest.approx(flops, rel=1e-4)
    assert result['nonzero_params'] == pytest.approx(paper_params, rel=0.03)
    assert result['sparse_flops'] == pytest.approx(paper_flops, rel=0.055)
    # 40% of the selected weights are zero: 60% of their FLOPs remain.
    assert 0.55 < result['sparse_flops'] / result['flops'] < 0.65


def test_snip_allocation_keeps_the_parameter_count():
    """SNIP (the configs' init) moves density between layers, not the
    total: the non-zero count stays within 0.1% of the uniform one."""
    uniform = sparse_counts('pelk-t_32xb128-300e_in1k.py')
    snip = sparse_counts('pelk-t_32xb128-300e_in1k.py', init='snip')
    assert snip['nonzero_params'] == pytest.approx(
        uniform['nonzero_params'], rel=1e-3)
    assert snip['module_density'] != uniform['module_density']


# Builds of the 85M-158M-parameter models: 5-13 s each on 2 CPU cores.
@pytest.mark.heavy
@pytest.mark.parametrize('name,params,flops,paper_params,paper_flops', [
    ('pelk-s_64xb64-300e_in1k.py', 51.15e6, 10.98e9, 50e6, 10.7e9),
    ('pelk-b_128xb32-300e_in1k.py', 90.06e6, 18.46e9, 89e6, 18.3e9),
    # Paper: 90M (its 384 row); FLOPs only at 384 (68.3G, README).
    ('pelk-b-101_128xb32-300e_in1k.py', 91.15e6, 23.33e9, 90e6, None),
    ('slak-s_64xb64-300e_in1k.py', 54.62e6, 10.02e9, 55e6, 9.8e9),
    ('slak-b_128xb32-300e_in1k.py', 94.69e6, 17.18e9, 95e6, 17.1e9),
])
def test_sparse_counts(name, params, flops, paper_params, paper_flops):
    result = sparse_counts(name)
    assert result['nonzero_params'] == pytest.approx(params, rel=1e-3)
    assert result['sparse_flops'] == pytest.approx(flops, rel=1e-3)
    assert result['nonzero_params'] == pytest.approx(paper_params, rel=0.03)
    if paper_flops is not None:
        assert result['sparse_flops'] == pytest.approx(paper_flops, rel=0.03)


# At 384 the fine-tunes keep the 224 model's masks: counted on it.
@pytest.mark.heavy
@pytest.mark.parametrize('name,flops,paper_flops', [
    ('pelk-b_128xb32-300e_in1k.py', 54.24e9, 54.0e9),
    ('pelk-b-101_128xb32-300e_in1k.py', 68.57e9, 68.3e9),
])
def test_sparse_flops_at_384(name, flops, paper_flops):
    result = sparse_counts(name, size=384)
    assert result['sparse_flops'] == pytest.approx(flops, rel=1e-3)
    assert result['sparse_flops'] == pytest.approx(paper_flops, rel=0.03)
