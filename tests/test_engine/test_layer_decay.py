"""LayerDecayOptimWrapperConstructor: RepLKNet layer ids, lr scales, weight
decay and building through the registries of mmpretrain, mmseg and mmdet."""
import logging

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope, init_default_scope

import lkmm  # noqa: F401
from lkmm.engine.optimizers import LayerDecayOptimWrapperConstructor
from lkmm.engine.runner import build_model_from_cfg
from lkmm.models import RepLKNet
from lkmm.registry import OPTIM_WRAPPER_CONSTRUCTORS

# Stage 2 has 9 block pairs = 18 modules -> groups of 4 modules (2 pairs):
# pairs {0,1} {2,3} {4,5} {6,7} {8} -> ids 3..7; stage 3 -> 8; head -> 9.
ARCH = dict(channels=[8, 16, 24, 32], layers=[1, 1, 9, 1],
            kernel_sizes=[7, 7, 7, 5], small_kernel=3)
NUM_LAYERS = 8
HEAD = NUM_LAYERS + 1
LR, WD, RATE = 1e-3, 0.05, 0.9
CONSTRUCTOR = 'lkmm.LayerDecayOptimWrapperConstructor'


def _cfg(**paramwise):
    paramwise.setdefault('decay_rate', RATE)
    return dict(
        constructor=CONSTRUCTOR,
        optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
        paramwise_cfg=paramwise)


def _constructor(**paramwise):
    cfg = _cfg(**paramwise)
    cfg.pop('constructor')
    paramwise = cfg.pop('paramwise_cfg')
    return LayerDecayOptimWrapperConstructor(cfg, paramwise)


class _Classifier(nn.Module):
    """Minimal model with a ``backbone`` and a head outside it."""

    def __init__(self, **kwargs):
        super().__init__()
        self.backbone = RepLKNet(ARCH, **kwargs)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        feat = self.backbone(x)[-1].mean((2, 3))
        return self.head(feat)


def _group_of(optimizer):
    """Map parameter -> its param group, asserting it is in exactly one."""
    seen = {}
    for group in optimizer.param_groups:
        for param in group['params']:
            assert param not in seen, 'parameter in two groups'
            seen[param] = group
    return seen


@pytest.fixture(scope='module')
def model():
    return _Classifier(final_norm=True)


def test_layer_ids_follow_official_grouping(model):
    ctor = _constructor()
    assert ctor.get_num_layers(model.backbone) == NUM_LAYERS
    expected = {
        'backbone.stem.0.conv.weight': 0,
        'backbone.stem.3.bn.bias': 0,
        'backbone.stages.0.0.pw1.conv.weight': 1,  # RepLK block of pair 0
        'backbone.stages.0.1.pw2.conv.weight': 1,  # its ConvFFN
        'backbone.transitions.0.0.conv.weight': 1,  # goes with stage 0
        'backbone.stages.1.0.pre_norm.weight': 2,
        'backbone.transitions.1.1.conv.weight': 2,
        'backbone.stages.2.0.pw1.conv.weight': 3,  # pair 0
        'backbone.stages.2.3.pw1.conv.weight': 3,  # pair 1, same group
        'backbone.stages.2.4.pw1.conv.weight': 4,  # pair 2
        'backbone.stages.2.8.pw1.conv.weight': 5,  # pair 4
        'backbone.stages.2.9.pw2.conv.weight': 5,
        'backbone.stages.2.16.pw1.conv.weight': 7,  # pair 8 (last)
        'backbone.stages.2.17.pw2.bn.weight': 7,
        'backbone.transitions.2.0.conv.weight': 7,  # last stage-2 group
        'backbone.stages.3.0.pw1.conv.weight': NUM_LAYERS,
        'backbone.stages.3.1.pw2.conv.weight': NUM_LAYERS,
        'backbone.norm3.weight': HEAD,  # like the official final norm
        'head.weight': HEAD,
        'head.bias': HEAD,
    }
    names = dict(model.named_parameters())
    for name, layer_id in expected.items():
        assert name in names, name
        assert ctor.get_layer_id(name, model) == layer_id, name


def _official_layer_id(name):
    """The official RepLKNet table (optim_factory.get_num_layer_for_replknet)
    for layers=[2, 2, 18, 2], written for lkmm names (no ``.blocks``)."""
    parts = name.split('.')
    if parts[0] == 'stem':
        return 0
    if parts[0] == 'stages':
        stage, block = int(parts[1]), int(parts[2])
        return {0: 1, 1: 2, 2: 3 + block // 4, 3: 12}[stage]
    if parts[0] == 'transitions':
        return {0: 1, 1: 2, 2: 11}[int(parts[1])]
    return 13


def test_matches_official_table_for_18_pair_stage():
    backbone = RepLKNet(
        dict(channels=[4, 4, 4, 4], layers=[2, 2, 18, 2],
             kernel_sizes=[3, 3, 3, 3], small_kernel=None))
    ctor = _constructor(num_layers=12)  # the official num_layers
    assert ctor.get_num_layers(backbone) == 12
    for name, _ in backbone.named_parameters():
        assert ctor.get_layer_id(name, backbone) == _official_layer_id(name)
    # official: stem lr = decay ** 13, head lr = decay ** 0
    assert ctor.get_lr_scale(0, 12) == pytest.approx(RATE**13)
    assert ctor.get_lr_scale(13, 12) == 1


def test_param_groups_lr_and_weight_decay(model):
    ctor = _constructor()
    wrapper = ctor(model)
    groups = _group_of(wrapper.optimizer)
    named = dict(model.named_parameters())
    assert set(groups) == set(named.values())  # every param exactly once
    for name, param in named.items():
        group = groups[param]
        layer_id = ctor.get_layer_id(name, model)
        assert group['layer_id'] == layer_id
        scale = RATE**(HEAD - layer_id)
        assert group['lr_scale'] == pytest.approx(scale), name
        assert group['lr'] == pytest.approx(LR * scale), name
        expect_wd = 0. if param.ndim == 1 else WD
        assert group['weight_decay'] == expect_wd, name
    # norms and biases without weight decay, convs and linear with it
    assert groups[named['backbone.stem.0.bn.weight']]['weight_decay'] == 0
    assert groups[named['backbone.norm3.bias']]['weight_decay'] == 0
    assert groups[named['head.bias']]['weight_decay'] == 0
    assert groups[named['head.weight']]['weight_decay'] == WD
    assert groups[named['head.weight']]['lr'] == pytest.approx(LR)
    assert groups[named['backbone.stem.0.conv.weight']]['lr'] == \
        pytest.approx(LR * RATE**HEAD)
    # one group per (layer, decay / no decay), head first (the logged lr)
    assert len(wrapper.optimizer.param_groups) == 2 * (HEAD + 1)
    assert [g['layer_id'] for g in wrapper.optimizer.param_groups] == [
        i for i in range(HEAD, -1, -1) for _ in range(2)]
    assert wrapper.get_lr()['lr'][0] == pytest.approx(LR)


def test_no_decay_names(model):
    ctor = _constructor(no_decay_names=['head.weight', 'backbone.stem'])
    groups = _group_of(ctor(model).optimizer)
    named = dict(model.named_parameters())
    assert groups[named['head.weight']]['weight_decay'] == 0
    assert groups[named['backbone.stem.2.conv.weight']]['weight_decay'] == 0
    assert groups[named['backbone.stages.0.0.pw1.conv.weight']][
        'weight_decay'] == WD


def test_stage_wise(model):
    ctor = _constructor(decay_type='stage_wise', decay_rate=0.4)
    assert ctor.get_num_layers(model.backbone) == 3
    expected = {
        'backbone.stem.0.conv.weight': 0,
        'backbone.stages.0.1.pw1.conv.weight': 0,
        'backbone.transitions.0.1.conv.weight': 0,
        'backbone.stages.1.0.pw1.conv.weight': 1,
        'backbone.transitions.1.0.conv.weight': 1,
        'backbone.stages.2.0.pw1.conv.weight': 2,
        'backbone.stages.2.17.pw1.conv.weight': 2,
        'backbone.transitions.2.0.conv.weight': 2,
        'backbone.stages.3.0.pw1.conv.weight': 3,
        'backbone.norm3.weight': 4,
        'head.weight': 4,
    }
    for name, layer_id in expected.items():
        assert ctor.get_layer_id(name, model) == layer_id, name
    groups = _group_of(ctor(model).optimizer)
    named = dict(model.named_parameters())
    assert groups[named['backbone.stem.0.conv.weight']]['lr'] == \
        pytest.approx(LR * 0.4**4)
    assert groups[named['backbone.stages.2.0.pw1.conv.weight']]['lr'] == \
        pytest.approx(LR * 0.4**2)
    assert groups[named['head.weight']]['lr'] == pytest.approx(LR)
    assert len(groups) == len(named)


def test_frozen_params_left_out():
    model = _Classifier(frozen_stages=1)
    groups = _group_of(_constructor()(model).optimizer)
    trainable = {p for p in model.parameters() if p.requires_grad}
    assert set(groups) == trainable
    assert model.backbone.stem[0].conv.weight not in groups


def test_logs_group_table(model):
    MMLogger.get_instance('test_layer_decay', log_level='INFO')
    logger = MMLogger.get_current_instance()  # what print_log uses
    level = logger.level
    logger.setLevel(logging.INFO)
    records = []

    class _Keep(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    handler = _Keep(level=logging.INFO)
    logger.addHandler(handler)
    try:
        _constructor()(model)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    table = '\n'.join(records)
    assert 'RepLKNet, layer_wise decay_rate=0.9' in table
    assert 'lr_scale' in table and ' head ' in table


@pytest.mark.parametrize('paramwise, field', [
    (dict(decay_rate=0.9, decay_type='block_wise'), 'decay_type'),
    (dict(decay_rate=0.), 'decay_rate'),
    (dict(decay_rate=1.5), 'decay_rate'),
    (dict(decay_rate='0.9'), 'decay_rate'),
    (dict(decay_rate=None), 'decay_rate'),
    (dict(decay_rate=0.9, num_layers=-1), 'num_layers'),
    (dict(decay_rate=0.9, no_decay_names='head'), 'no_decay_names'),
    (dict(decay_rate=0.9, layer_decay_rate=0.9), 'layer_decay_rate'),
])
def test_bad_paramwise_cfg(paramwise, field):
    with pytest.raises(ValueError, match=field):
        LayerDecayOptimWrapperConstructor(
            dict(optimizer=dict(type='AdamW', lr=LR)), paramwise)


def test_num_layers_mismatch(model):
    with pytest.raises(ValueError, match='num_layers=8'):
        _constructor(num_layers=12)(model)
    _constructor(num_layers=NUM_LAYERS)(model)


def test_unsupported_backbone():

    class Plain(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = nn.Conv2d(3, 4, 3)
            self.head = nn.Linear(4, 2)

    with pytest.raises(NotImplementedError,
                       match='Conv2d has no get_layer_depth'):
        _constructor()(Plain())
    with pytest.raises(NotImplementedError, match='backbone'):
        _constructor()(nn.Linear(2, 2))


def test_any_backbone_with_get_layer_depth_plugs_in():

    class TinyNet(nn.Module):
        """mmpretrain's interface: no decay_type argument."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3)
            self.stage = nn.Conv2d(4, 4, 3)

        def get_layer_depth(self, name, prefix=''):
            if not name.startswith(prefix):
                return 2, 3
            return (0 if name[len(prefix):].startswith('stem') else 1), 3

    model = nn.Module()
    model.backbone = TinyNet()
    model.head = nn.Linear(4, 2)
    ctor = _constructor()
    assert ctor.get_layer_id('backbone.stem.weight', model) == 0
    assert ctor.get_layer_id('backbone.stage.bias', model) == 1
    assert ctor.get_layer_id('head.weight', model) == 2
    with pytest.raises(NotImplementedError, match='only decay_type'):
        _constructor(decay_type='stage_wise')(model)


def test_no_engine_module_imports_a_backbone():
    """The constructor asks the backbone; lkmm/engine keeps no table of
    backbone classes (it may import the contract, backbones/base.py)."""
    import ast
    import pathlib
    root = pathlib.Path(lkmm.__file__).parent
    families = ('replknet', 'large_kernel_convnext', 'parcnetv2')
    found = []
    for path in (root / 'engine').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ''] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(f in n or n in ('RepLKNet', 'LargeKernelConvNeXt',
                                   'ParCNetV2') or n == 'lkmm.models'
                   or n.endswith('models.backbones')
                   for n in names for f in families):
                found.append(f'{path.name}: {names}')
    assert found == []


def _step(model, wrapper, inputs):
    """One optimizer step; return whether backbone and head params moved."""
    stem = model.backbone.stem[0].conv.weight
    before = stem.detach().clone()
    out = model(inputs, mode='tensor')
    if isinstance(out, (tuple, list)):  # detector: (cls_scores, bbox_preds)
        out = [t for level in out for t in level]
        loss = sum(t.float().mean() for t in out)
    else:
        loss = out.float().pow(2).mean()
    wrapper.update_params(loss)
    return not torch.equal(before, stem.detach())


TINY = dict(channels=[8, 16, 24, 32], layers=[1, 1, 3, 1],
            kernel_sizes=[7, 7, 7, 5], small_kernel=3)
SCOPE_MODELS = {
    'mmpretrain': dict(
        type='ImageClassifier',
        backbone=dict(type='lkmm.RepLKNet', arch=TINY, final_norm=True),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=32)),
    'mmseg': dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', size=(64, 64)),
        backbone=dict(type='lkmm.RepLKNet', arch=TINY, out_indices=(2, 3)),
        decode_head=dict(type='FCNHead', in_channels=32, in_index=1,
                         channels=8, num_convs=1, num_classes=3),
        train_cfg=dict(), test_cfg=dict(mode='whole')),
    'mmdet': dict(
        type='RetinaNet',
        data_preprocessor=dict(type='DetDataPreprocessor',
                               pad_size_divisor=32),
        backbone=dict(type='lkmm.RepLKNet', arch=TINY, out_indices=(2, 3)),
        neck=dict(type='FPN', in_channels=[24, 32], out_channels=8,
                  num_outs=2),
        bbox_head=dict(
            type='RetinaHead', num_classes=3, in_channels=8,
            stacked_convs=1, feat_channels=8,
            anchor_generator=dict(
                type='AnchorGenerator', octave_base_scale=4,
                scales_per_octave=1, ratios=[1.0], strides=[16, 32]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True),
            loss_bbox=dict(type='L1Loss'))),
}


@pytest.mark.parametrize('scope', list(SCOPE_MODELS))
def test_build_in_every_scope_and_step(scope):
    from mmengine.config import Config
    model = build_model_from_cfg(
        Config(dict(default_scope=scope, model=SCOPE_MODELS[scope])))
    model.train()
    init_default_scope(scope)
    with DefaultScope.overwrite_default_scope(scope):
        ctor_cls = OPTIM_WRAPPER_CONSTRUCTORS.get(CONSTRUCTOR)
        wrapper = build_optim_wrapper(model, _cfg())
    assert ctor_cls is LayerDecayOptimWrapperConstructor
    groups = _group_of(wrapper.optimizer)
    assert set(groups) == set(model.parameters())
    # TINY: stage 2 has 3 pairs -> 2 groups, ids 3, 4; stage 3 -> 5
    head = max(g['layer_id'] for g in wrapper.optimizer.param_groups)
    assert head == 6
    non_backbone = [p for n, p in model.named_parameters()
                    if not n.startswith('backbone.')]
    assert non_backbone and all(groups[p]['lr'] == pytest.approx(LR)
                                for p in non_backbone)
    assert _step(model, wrapper, torch.randn(2, 3, 64, 64))


# ------------------------------------------- LargeKernelConvNeXt (PeLK) --
def _lk_convnext(depths):
    """A small PeLK-like backbone (peripheral form, positional embedding)
    with ConvNeXt's stage depths, in a model with a head."""
    from lkmm.models import LargeKernelConvNeXt
    model = nn.Module()
    model.backbone = LargeKernelConvNeXt(
        arch=dict(depths=depths, channels=[8, 8, 16, 16],
                  kernel_sizes=[7, 7, 7, 5], form='peripheral',
                  partial_ratio=0.5, pos_embed=True, centre_size=3),
        out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    model.head = nn.Linear(16, 2)
    return model


def _mmseg_convnext_name(name):
    """lkmm ``backbone.stages.i.blocks.k.*`` -> ConvNeXt's
    ``backbone.stages.i.k.*`` (the names mmseg's rules parse)."""
    parts = name.split('.')
    if parts[1] == 'stages' and parts[3] == 'blocks':
        del parts[3]
    return '.'.join(parts)


def _lrs(model, **paramwise):
    params = []
    _constructor(**paramwise).add_params(params, model)
    return {id(p): g['lr'] for g in params for p in g['params']}


@pytest.mark.parametrize('depths,num_layers', [([3, 3, 9, 3], 6),
                                               ([3, 3, 27, 3], 12),
                                               ([2, 2, 4, 1], 5)])
def test_large_kernel_convnext_layer_wise_matches_mmseg_convnext(
        depths, num_layers):
    """Every parameter gets the lr of mmseg's (= mmdet's, = the ConvNeXt
    release's) ``get_layer_id_for_convnext`` with the ConvNeXt
    ``num_layers`` (6 for T, 12 for S/B); PeLK's positional embeddings,
    which ConvNeXt lacks, go with the first id of their stage."""
    from mmseg.engine.optimizers.layer_decay_optimizer_constructor import (
        get_layer_id_for_convnext,
    )
    model = _lk_convnext(depths)
    ctor = _constructor(decay_type='layer_wise')
    assert ctor.get_num_layers(model.backbone) == num_layers
    lrs = _lrs(model, decay_type='layer_wise', num_layers=num_layers)
    first_id = {0: 1, 1: 2, 2: 3, 3: num_layers}
    checked = 0
    for name, param in model.named_parameters():
        if name.endswith('pos_embed.weight'):
            layer_id = first_id[int(name.split('.')[2])]
        else:
            layer_id = get_layer_id_for_convnext(_mmseg_convnext_name(name),
                                                 num_layers)
        expected = LR * RATE**(num_layers + 1 - layer_id)
        assert lrs[id(param)] == pytest.approx(expected), name
        checked += 1
    assert checked == len(list(model.parameters()))
    # The groups the docstring names.
    get = ctor.get_layer_id
    assert get('backbone.downsample_layers.0.0.weight', model) == 0
    assert get('backbone.downsample_layers.1.1.weight', model) == 2
    assert get('backbone.downsample_layers.2.1.weight', model) == 3
    assert get('backbone.downsample_layers.3.1.weight', model) == num_layers
    assert get('backbone.norm3.weight', model) == num_layers + 1
    assert get('head.weight', model) == num_layers + 1


@pytest.mark.parametrize('depths,num_layers', [([3, 3, 9, 3], 6),
                                               ([3, 3, 27, 3], 12),
                                               ([3, 3, 9, 3], None)])
def test_large_kernel_convnext_stage_wise_matches_mmseg_convnext(
        depths, num_layers):
    """mmseg's ``get_stage_id_for_convnext``: every downsampling layer with
    the stem (id 0), stage i -> i + 1, head ``num_layers + 1``; the mmseg /
    mmdet ConvNeXt configs' ``num_layers`` (6 or 12, larger than the
    largest stage id 4) leaves a gap before the head, reproduced here.
    Without ``num_layers`` the head follows stage 3 (id 5)."""
    from mmseg.engine.optimizers.layer_decay_optimizer_constructor import (
        get_stage_id_for_convnext,
    )
    model = _lk_convnext(depths)
    paramwise = dict(decay_type='stage_wise')
    if num_layers is not None:
        paramwise['num_layers'] = num_layers
    assert _constructor(**paramwise).get_num_layers(model.backbone) == (
        num_layers or 4)
    lrs = _lrs(model, **paramwise)
    top = num_layers or 4
    for name, param in model.named_parameters():
        if name.endswith('pos_embed.weight'):
            stage_id = int(name.split('.')[2]) + 1
        else:
            # mmseg's max_stage_id is num_layers + 2; its head id
            # max_stage_id - 1.
            stage_id = get_stage_id_for_convnext(
                _mmseg_convnext_name(name), top + 2)
        expected = LR * RATE**(top + 1 - stage_id)
        assert lrs[id(param)] == pytest.approx(expected), name
    if num_layers == 6:
        # ConvNeXt-T / PeLK-T ADE20K: stem and downsampling 0.9^7, stages
        # 0.9^6 .. 0.9^3, heads 1.
        scales = sorted({round(lr / LR, 6) for lr in lrs.values()})
        assert scales == [round(RATE**k, 6) for k in (7, 6, 5, 4, 3, 0)]


def test_large_kernel_convnext_num_layers_checks():
    model = _lk_convnext([3, 3, 9, 3])
    # layer_wise: num_layers must be the derived 6 (no gap: mmseg would put
    # stage 3 at num_layers, which the derived ids do not).
    with pytest.raises(ValueError, match='num_layers=6'):
        _constructor(decay_type='layer_wise', num_layers=12)(model)
    # stage_wise: at least the largest stage id (4).
    with pytest.raises(ValueError, match='num_layers=4'):
        _constructor(decay_type='stage_wise', num_layers=3)(model)
    _constructor(decay_type='stage_wise', num_layers=4)(model)
    _constructor(decay_type='stage_wise', num_layers=12)(model)
    # RepLKNet keeps the strict check in both modes.
    with pytest.raises(ValueError, match='num_layers=3'):
        _constructor(decay_type='stage_wise', num_layers=6)(
            _Classifier(final_norm=True))


def test_large_kernel_convnext_frozen_stem_and_no_decay():
    """Frozen parameters are left out; 1-D tensors (norms, biases,
    LayerScale) get no weight decay, the positional embedding (3-D) does,
    as in ConvNeXt's rules (only 1-D, ``.bias`` and ``pos_embed`` /
    ``cls_token`` names are exempt there -- PeLK's is
    ``stages.i.pos_embed.weight``)."""
    model = _lk_convnext([1, 1, 3, 1])
    params = []
    _constructor(decay_type='layer_wise').add_params(params, model)
    group = {id(p): g for g in params for p in g['params']}
    for name, param in model.named_parameters():
        wd = group[id(param)].get('weight_decay', WD)
        assert wd == (0. if param.ndim <= 1 else WD), name


CONVNEXT_TINY = dict(depths=[1, 1, 4, 1], channels=[8, 16, 24, 32],
                     kernel_sizes=[7, 7, 7, 5], form='dense')


@pytest.mark.parametrize('backbone', [
    dict(type='lkmm.RepLKNet', arch=dict(ARCH), final_norm=True),
    dict(type='lkmm.LargeKernelConvNeXt', arch=CONVNEXT_TINY),
    dict(type='lkmm.ParCNetV2', arch=dict(depths=[1, 1, 4, 1],
                                          channels=[8, 16, 24, 32]),
         train_size=64),
], ids=['RepLKNet', 'LargeKernelConvNeXt', 'ParCNetV2'])
def test_mmpretrain_layer_decay_constructor_agrees(backbone):
    """mmpretrain's own LearningRateDecayOptimWrapperConstructor asks an
    lkmm backbone through get_layer_depth and gets lkmm's lr scales."""
    from mmengine.config import Config
    model = build_model_from_cfg(Config(dict(
        default_scope='mmpretrain',
        model=dict(type='ImageClassifier', backbone=backbone,
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=5,
                             in_channels=32)))))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        theirs = build_optim_wrapper(model, dict(
            constructor='LearningRateDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
            paramwise_cfg=dict(layer_decay_rate=RATE)))
    scales = {g['param_name']: g['lr_scale']
              for g in theirs.optimizer.param_groups}
    ctor = _constructor()
    num_layers = ctor.get_num_layers(model.backbone)
    ours = {name: ctor.get_lr_scale(ctor.get_layer_id(name, model),
                                    num_layers)
            for name, _ in model.named_parameters()}
    assert set(scales) == set(ours)
    assert len(set(scales.values())) == num_layers + 2  # every id used
    for name, scale in ours.items():
        assert scales[name] == pytest.approx(scale), name
