"""The contract every lkmm backbone keeps (lkmm/models/backbones/base.py),
checked by one set of tests over every family and kernel form."""
import inspect

import pytest
import torch
import torch.utils.checkpoint as torch_cp
from torch.nn.modules.batchnorm import _BatchNorm

from lkmm.models.backbones.arch_utils import REQUIRED, ArchField, ArchSpec
from lkmm.models.backbones.base import LargeKernelBackbone
from lkmm.models.deploy import deploy_argument
from lkmm.registry import MODELS

CHANNELS = [8, 16, 24, 32]
_CONVNEXT = dict(depths=[1, 1, 4, 1], channels=[16, 16, 24, 32],
                 kernel_sizes=[13, 11, 9, 7])
_MOBILENET = dict(stem_channels=[8, 8], channels=[[8], [16], [16, 24], [32]],
                  repeats=[[1], [2], [1, 1], [2]], expand_ratio=2)
# (type, arch, extra kwargs): every family, and every kernel form.
FAMILIES = {
    'RepLKNet': ('RepLKNet', dict(channels=CHANNELS, layers=[1, 1, 4, 1],
                                  kernel_sizes=[13, 11, 9, 7],
                                  small_kernel=3), dict(final_norm=True)),
    'PeLK': ('LargeKernelConvNeXt',
             dict(_CONVNEXT, form='peripheral', partial_ratio=3 / 8,
                  pos_embed=True, centre_size=3), {}),
    'SLaK': ('LargeKernelConvNeXt', dict(_CONVNEXT, form='stripe'), {}),
    'ConvNeXt-31': ('LargeKernelConvNeXt', dict(_CONVNEXT, form='dense'),
                    {}),
    'ParCNetV2': ('ParCNetV2', dict(depths=[1, 1, 4, 1], channels=CHANNELS,
                                    norm='BN'), dict(train_size=64)),
    'ParCNetV2-release': ('ParCNetV2', dict(depths=[1, 1, 4, 1],
                                            channels=CHANNELS,
                                            block='release', norm='L2LN',
                                            res_scale=[False] * 2 + [True] * 2,
                                            layer_scale=False,
                                            resize_kernels=False),
                          dict(train_size=64)),
    'MobileNetV2-rep': ('LargeKernelMobileNetV2', dict(
        _MOBILENET, kernel_sizes=[7, 5, 5, 9], small_kernel=3),
        dict(final_channels=40)),
    'MobileNetV2-dilated': ('LargeKernelMobileNetV2', dict(
        _MOBILENET, kernel_sizes=[3, 3, 3, 3], kernel_dilations=[2, 2, 3, 3],
        shortcut=False), dict(final_channels=40)),
}
SHAPE = (2, 3, 64, 64)
# Families without output norms (MobileNetV2 returns its stages as they
# are, the last one through its 1x1 conv).
NO_OUTPUT_NORMS = ('MobileNetV2-rep', 'MobileNetV2-dilated')


def build(family, **kwargs):
    type_, arch, extra = FAMILIES[family]
    cfg = dict(type=f'lkmm.{type_}', arch=arch, **extra)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def stage_channels(model):
    return [getattr(model, 'channels')[i] for i in range(model.num_stages)]


@pytest.fixture(params=list(FAMILIES))
def family(request):
    return request.param


def test_is_a_large_kernel_backbone(family):
    model = build(family)
    assert isinstance(model, LargeKernelBackbone)
    # The contract's arguments, with the same defaults in every family.
    params = inspect.signature(type(model).__init__).parameters
    for name, default in (('frozen_stages', 0), ('norm_eval', False),
                          ('with_cp', False), ('out_indices', (3, ))):
        assert params[name].default == default, name
    assert 'init_cfg' in params


def test_folded_form_is_declared_and_rebuilds_the_folded_model(
        family, randomize_bn):
    """Built with the declared argument, the model has the structure (and
    the outputs, given the deployed weights) of a trained one deployed in
    place by switch_to_deploy()."""
    torch.manual_seed(0)
    model = build(family, out_indices=(0, 1, 2, 3))
    model.init_weights()
    randomize_bn(model).eval()
    cls = type(model)
    assert 'deploy_arg' in vars(cls) or cls.deploy_arg == 'deploy'
    arg = deploy_argument(cls)
    x = torch.randn(*SHAPE)
    with torch.no_grad():
        before = model(x)
        assert model.switch_to_deploy() is model
        after = model(x)
        model.switch_to_deploy()  # idempotent
        again = model(x)
    for a, b, c in zip(before, after, again):
        scale = a.abs().max().item()
        assert (a - b).abs().max().item() <= 1e-5 * scale
        assert torch.equal(b, c)
    folded = model.state_dict()
    if arg is None:  # nothing to deploy: the structure is unchanged
        assert family.startswith('ParCNetV2')
        rebuilt = build(family, out_indices=(0, 1, 2, 3))
        assert rebuilt.state_dict().keys() == folded.keys()
        return
    assert arg == 'deploy'
    unfolded = build(family, out_indices=(0, 1, 2, 3)).state_dict()
    assert unfolded.keys() != folded.keys()
    rebuilt = build(family, out_indices=(0, 1, 2, 3), **{arg: True})
    rebuilt.load_state_dict(folded, strict=True)
    with torch.no_grad():
        for a, b in zip(after, rebuilt.eval()(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_out_indices_and_output_norms(family):
    model = build(family, out_indices=(1, -1),
                  **({} if family in ('RepLKNet', *NO_OUTPUT_NORMS) else
                     dict(gap_before_final_norm=False)))
    assert model.out_indices == (1, 3)
    with torch.no_grad():
        outs = model.eval()(torch.randn(*SHAPE))
    assert len(outs) == 2
    for out, i in zip(outs, (1, 3)):
        assert out.shape == (2, stage_channels(model)[i], 64 // 2**(i + 2),
                             64 // 2**(i + 2))
    # Output norms are named norm{i}, i a returned stage.
    norms = sorted(n for n, _ in model.named_children()
                   if n.startswith('norm'))
    assert set(norms) <= {'norm1', 'norm3'}
    assert ('norm3' in norms) == (family not in NO_OUTPUT_NORMS)
    with pytest.raises(ValueError, match=r'out_indices entries must be ints '
                       r'in \[-4, 3\], got 4'):
        build(family, out_indices=(4, ))


def _trainable(module):
    return {n for n, p in module.named_parameters() if p.requires_grad}


@pytest.mark.parametrize('frozen', [-1, 0, 1, 2, 4])
def test_frozen_stages_mean_the_same_everywhere(family, frozen):
    model = build(family, frozen_stages=frozen).train()
    trainable = _trainable(model)
    all_params = {n for n, _ in model.named_parameters()}
    frozen_names = all_params - trainable
    stem = ('stem.', 'downsample_layers.0.')
    if frozen <= 0:  # -1 and 0: nothing
        assert frozen_names == set()
        return

    def stage_of(name):
        parts = name.split('.')
        if parts[0] == 'stages':
            return int(parts[1])
        if parts[0] == 'downsample_layers':
            return int(parts[1])  # feeds stage i
        if parts[0] == 'transitions':
            return int(parts[1]) + 1  # between stage i and i + 1
        return None

    for name in all_params:
        stage = 0 if name.startswith(stem) else stage_of(name)
        expect_frozen = stage is not None and stage < frozen
        assert (name in frozen_names) == expect_frozen, name
    # Frozen modules stay in eval mode after train().
    frozen_bns = [m for n, m in model.named_modules()
                  if isinstance(m, _BatchNorm) and n.startswith(
                      ('stem', 'downsample_layers.0', 'stages.0'))]
    assert all(not m.training for m in frozen_bns)


def test_bad_frozen_stages(family):
    with pytest.raises(ValueError, match=r'frozen_stages must be an int in '
                       r'\[-1, 4\]'):
        build(family, frozen_stages=5)
    with pytest.raises(ValueError, match='frozen_stages'):
        build(family, frozen_stages=True)


def test_norm_eval(family):
    model = build(family, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not bns:
        pytest.skip('the released ParCNetV2 has no BN layer')
    assert all(not m.training for m in bns)
    assert all(m.training for m in build(family).train().modules()
               if isinstance(m, _BatchNorm))


def test_with_cp_checkpoints_every_block_and_changes_nothing(
        family, monkeypatch):
    torch.manual_seed(0)
    plain = build(family, out_indices=(0, 1, 2, 3))
    cp_model = build(family, out_indices=(0, 1, 2, 3), with_cp=True)
    cp_model.load_state_dict(plain.state_dict())
    calls = []
    original = torch_cp.checkpoint

    def spy(fn, *args, **kwargs):
        calls.append(type(fn).__name__)
        return original(fn, *args, **kwargs)

    monkeypatch.setattr(torch_cp, 'checkpoint', spy)
    x = torch.randn(*SHAPE)
    grads = []
    for model in (plain, cp_model):
        model.train()
        out = model(x.clone().requires_grad_())
        sum(o.square().mean() for o in out).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    blocks = sum(len(s) if not hasattr(s, 'blocks') else len(s.blocks)
                 for s in cp_model.stages)
    assert len(calls) >= blocks  # every block (RepLKNet: the stem too)
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5,
                                   atol=1e-6, msg=name)


def test_layer_depth(family):
    """get_layer_depth as mmpretrain's ConvNeXt answers it: the stem is 0,
    ids never decrease from input to output, the head takes the last id."""
    model = build(family)
    for decay_type in ('layer_wise', 'stage_wise'):
        num = model.num_layer_ids(decay_type)
        ids = []
        for name, _ in model.named_parameters():
            layer_id, count = model.get_layer_depth(
                'backbone.' + name, 'backbone.', decay_type=decay_type)
            assert count == num + 2 and 0 <= layer_id <= num + 1
            ids.append(layer_id)
        assert min(ids) == 0 and max(ids) == num + 1  # output norm: head
        assert model.get_layer_depth('head.fc.weight', 'backbone.',
                                     decay_type) == (num + 1, num + 2)
        stage_ids = [model.get_layer_depth(f'stages.{i}.0.x', '',
                                           decay_type)[0]
                     for i in range(4)]
        assert stage_ids == sorted(stage_ids) and len(set(stage_ids)) == 4
    with pytest.raises(ValueError, match="decay_type must be one of"):
        model.get_layer_depth('stem.0', '', decay_type='block_wise')


def test_unset_pretrained_checkpoint_is_refused(family):
    model = build(family, init_cfg=dict(type='Pretrained', checkpoint=None))
    with pytest.raises(ValueError, match=r'a Pretrained init_cfg is set but '
                       r'its "checkpoint" is not set: pass --cfg-options '
                       r'model\.backbone\.init_cfg\.checkpoint=PATH'):
        model.init_weights()


def test_arch_errors_name_the_field(family):
    type_, arch, extra = FAMILIES[family]
    with pytest.raises(ValueError, match=f'Unknown arch "xl" for {type_}'):
        MODELS.build(dict(type=f'lkmm.{type_}', arch='xl', **extra))
    with pytest.raises(ValueError, match=r"Unknown arch keys \['bogus'\]"):
        MODELS.build(dict(type=f'lkmm.{type_}', arch=dict(arch, bogus=1),
                          **extra))
    with pytest.raises(ValueError, match='must have the same length'):
        MODELS.build(dict(type=f'lkmm.{type_}',
                          arch=dict(arch, channels=arch['channels'][:3]),
                          **extra))


def test_replknet_small_kernel_merged_is_the_deploy_alias():
    """mmpretrain's name for the deploy form still builds it."""
    a = build('RepLKNet', small_kernel_merged=True).state_dict()
    b = build('RepLKNet', deploy=True).state_dict()
    assert a.keys() == b.keys()
    assert not any('small_conv' in k for k in a)


def test_replknet_loads_checkpoints_with_the_old_output_norm_names():
    torch.manual_seed(0)
    model = build('RepLKNet')
    old = {k.replace('norm3.', 'out_norm3.', 1) if k.startswith('norm3.')
           else k: v.clone() + 1 for k, v in model.state_dict().items()}
    assert any(k.startswith('out_norm3.') for k in old)
    fresh = build('RepLKNet')
    fresh.load_state_dict(old, strict=True)
    assert torch.equal(fresh.norm3.weight, old['out_norm3.weight'])


def test_with_cp_is_one_helper():
    """One checkpointing helper serves every family (no second copy)."""
    import lkmm.models.backbones as backbones
    for module in (backbones.replknet, backbones.large_kernel_convnext,
                   backbones.parcnetv2, backbones.mobilenet_v2):
        source = inspect.getsource(module)
        assert 'torch.utils.checkpoint' not in source, module.__name__


#: Each family's arch dict keys: the required ones, then the others.
ARCH_KEYS = {
    'RepLKNet': (('channels', 'layers', 'kernel_sizes'),
                 ('small_kernel', 'dw_ratio', 'ffn_ratio')),
    'LargeKernelConvNeXt': (
        ('depths', 'channels', 'kernel_sizes', 'form'),
        ('small_kernel', 'centre_size', 'sharing_grids', 'partial_ratio',
         'pos_embed', 'stripe_width', 'mlp_ratio')),
    'ParCNetV2': (
        ('depths', 'channels'),
        ('global_ratios', 'expansion', 'dw_kernel_size', 'local_kernel_size',
         'stem_kernel', 'down_kernel', 'norm', 'channel_dw_kernel',
         'oversized_bias', 'block', 'res_scale', 'layer_scale',
         'resize_kernels')),
    'LargeKernelMobileNetV2': (
        ('kernel_sizes', ),
        ('kernel_dilations', 'small_kernel', 'shortcut', 'channels',
         'repeats', 'expand_ratio', 'stem_channels')),
}


@pytest.mark.parametrize('name', sorted(ARCH_KEYS))
def test_each_family_declares_its_arch_in_one_spec(name):
    import lkmm.models.backbones as backbones
    cls = getattr(backbones, name)
    spec = cls.arch_spec
    assert isinstance(spec, ArchSpec)
    assert not [a for a in dir(cls) if a.startswith('_arch_')]
    required, optional = ARCH_KEYS[name]
    assert spec.required == required
    assert sorted(spec.keys) == sorted(required + optional)
    assert set(spec.defaults) == set(optional)
    for arch in cls.arch_zoo:
        settings = cls.parse_arch(arch)
        assert set(settings) == set(spec.keys), arch
        assert len({len(settings[k]) for k in spec.per_stage}) == 1, arch
        for key in spec.positive_ints:
            assert all(isinstance(v, int) and v > 0 for v in settings[key])


def test_arch_spec_parses_and_refuses_with_the_field_named():
    spec = ArchSpec(ArchField('depths', per_stage=True, positive_ints=True),
                    ArchField('widths', [8, 16], per_stage=True),
                    ArchField('ratio', 0.5))
    assert spec.keys == ('depths', 'widths', 'ratio')
    assert spec.required == ('depths', )
    assert spec.per_stage == ('depths', 'widths')
    assert spec.positive_ints == ('depths', )
    assert spec.defaults == dict(widths=[8, 16], ratio=0.5)
    assert ArchField('depths').required and repr(REQUIRED) == 'REQUIRED'
    zoo = {'tiny': dict(depths=[1, 2])}
    settings = spec.parse('Net', 'tiny', zoo)
    assert settings == dict(depths=[1, 2], widths=[8, 16], ratio=0.5)
    assert spec.num_stages(settings) == 2
    settings['depths'].append(3)
    settings['widths'].append(3)  # copies: the zoo and defaults unchanged
    assert zoo['tiny']['depths'] == [1, 2]
    assert spec.defaults['widths'] == [8, 16]
    for arch, match in (
            ('small', r'Unknown arch "small" for Net; choose one of '
             r"\['tiny'\] or pass a dict with keys \['depths', 'widths', "
             r"'ratio'\]"),
            (dict(depths=[1, 1], bogus=1), r"Unknown arch keys \['bogus'\]; "
             r"allowed keys are \['depths', 'widths', 'ratio'\]"),
            (dict(ratio=1.), r"arch dict is missing keys \['depths'\]"),
            (dict(depths=[1]), r'arch "depths", "widths" must have the '
             r"same length, got lengths \{'depths': 1, 'widths': 2\}"),
            (dict(depths=[1, 0]), r'arch "depths" must hold positive '
             r'integers, got \[1, 0\]'),
            (3, 'arch must be a str or a dict, got int')):
        with pytest.raises(ValueError, match=match):
            spec.parse('Net', arch, zoo)
    with pytest.raises(ValueError, match='fields must be unique'):
        ArchSpec(ArchField('a', per_stage=True), ArchField('a', 1))
    with pytest.raises(ValueError, match='needs a per-stage field'):
        ArchSpec(ArchField('a'))
