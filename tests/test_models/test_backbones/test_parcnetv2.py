"""ParCNetV2 backbone (lkmm.ParCNetV2)."""
import inspect
import re
import time
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

from lkmm.layers import L2LayerNorm2d, OversizedConv2d
from lkmm.models import ParCNetV2
from lkmm.ops import oversized_conv_impl
from lkmm.registry import MODELS

TINY = dict(depths=[1, 1, 2, 1], channels=[8, 16, 24, 32])


class Classifier(nn.Module):
    """Backbone + 1000-class linear head, as the paper counts."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.channels[-1], 1000)

    def forward(self, x):
        return self.head(self.backbone(x)[0])


def n_params(m):
    return sum(p.numel() for p in m.parameters())


TINY_10M_STYLE = dict(TINY, stem_kernel=4, down_kernel=2,
                      local_kernel_size=3, norm='BN', channel_dw_kernel=3,
                      oversized_bias=True)


@pytest.mark.parametrize('arch', [TINY, TINY_10M_STYLE])
@pytest.mark.parametrize('size', [(64, 64), (67, 45), (96, 160)])
def test_shapes_odd_and_non_square(arch, size):
    torch.manual_seed(0)
    model = ParCNetV2(arch, train_size=64, out_indices=(0, 1, 2, 3),
                      gap_before_final_norm=False, layer_scale_init_value=1.)
    model.init_weights()
    model.eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.randn(2, 3, h, w))
    strided = arch.get('down_kernel', 3) == 2
    for i, (out, c) in enumerate(zip(outs, arch['channels'])):
        if strided:  # 4x4/s4 stem, 2x2/s2 downsampling: floor
            hh, ww = h // 4 // 2**i, w // 4 // 2**i
        else:  # 7x7/s4/p2 stem and 3x3/s2/p1 downsampling
            hh, ww = (h - 3) // 4 + 1, (w - 3) // 4 + 1
            for _ in range(i):
                hh, ww = (hh - 1) // 2 + 1, (ww - 1) // 2 + 1
        assert out.shape == (2, c, hh, ww)
        assert torch.isfinite(out).all()


def test_oversized_kernels_follow_train_size():
    model = ParCNetV2('10m')
    assert model.base_sizes == [(56, 56), (28, 28), (14, 14), (7, 7)]
    kernels = [s.blocks[0].spatial.parc.conv.global_conv.kernel_size
               for s in model.stages]
    assert kernels == [(111, 111), (55, 55), (27, 27), (13, 13)]
    ratios = [s.blocks[0].spatial.parc.conv.global_channels / c
              for s, c in zip(model.stages, model.channels)]
    assert ratios == [0.25, 0.5, 0.75, 1.0]
    model = ParCNetV2(TINY, train_size=(64, 128))
    block = model.stages[0].blocks[0]
    assert block.spatial.parc.conv.global_conv.kernel_size == (31, 63)


def test_param_counts_match_paper():
    """Paper: 10M 9.7M (Table 1), 26M 25.6M (Tables 2-3), with the 1000-class
    head (26M: expansions [5, 5, 2.5, 2.5], see the ParCNetV2 docstring)."""
    p10 = n_params(Classifier(ParCNetV2('10m')))
    p26 = n_params(Classifier(ParCNetV2('26m')))
    assert abs(p10 - 9.650e6) < 0.005e6
    assert abs(p26 - 25.432e6) < 0.005e6
    assert abs(p10 / 9.7e6 - 1) < 0.02
    assert abs(p26 / 25.6e6 - 1) < 0.02


def test_ablations_remove_component_and_params_follow_table1():
    full = ParCNetV2('10m')
    no_os = ParCNetV2('10m', oversized=False)
    no_bgu = ParCNetV2('10m', gated=False)
    no_uni = ParCNetV2('10m', uniform=False)
    assert not any(isinstance(m, OversizedConv2d) for m in no_os.modules())
    assert any(isinstance(m, OversizedConv2d) for m in full.modules())
    assert all(b.spatial.parc.conv.local_channels == b.spatial.parc.conv
               .channels for s in no_os.stages for b in s.blocks)
    blocks = [b for s in no_bgu.stages for b in s.blocks]
    assert not any(b.spatial.gated or b.channel.gated for b in blocks)
    # Without the uniform block the shallow stages have the depth-wise
    # conv only, the deep ones keep the local-global split.
    convs = [[b.spatial.parc.conv for b in s.blocks]
             for s in no_uni.stages]
    assert all(c.local_h is None and c.global_conv is None
               for s in convs[:2] for c in s)
    assert convs[2][0].global_channels == 144
    assert convs[2][0].local_channels == 48
    # Table 1: 9.7 / 9.6 / 9.7 / 9.6M.
    for model, paper in ((full, 9.7), (no_os, 9.6), (no_bgu, 9.7),
                         (no_uni, 9.6)):
        assert abs(n_params(Classifier(model)) / 1e6 / paper - 1) < 0.015
    assert n_params(no_os) < n_params(no_uni) < n_params(full)
    x = torch.randn(1, 3, 64, 64)
    for m in (no_os, no_bgu, no_uni):
        assert m(x)[0].shape == (1, 384)


def test_flops_26m_at_224():
    from lkmm.analysis.complexity import inference_complexity
    start = time.time()
    res = inference_complexity(Classifier(ParCNetV2('26m')), (3, 224, 224))
    assert time.time() - start < 60
    assert abs(res['flops'] - 4.801e9) < 0.01e9
    assert abs(res['flops'] / 4.8e9 - 1) < 0.02


def test_out_indices_frozen_stages_norm_eval_registry():
    model = MODELS.build(dict(type='lkmm.ParCNetV2',
                              arch=dict(TINY, norm='BN'),
                              out_indices=(1, -1), frozen_stages=2,
                              norm_eval=True, train_size=64))
    assert model.out_indices == (1, 3)
    model.train()
    for i in range(2):
        assert not any(p.requires_grad for p in model.stages[i].parameters())
        assert not model.stages[i].training
        assert not any(p.requires_grad
                       for p in model.downsample_layers[i].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape for o in outs] == [(1, 16), (1, 32)]


def test_oversized_impls_agree_in_a_train_step():
    # float64: the implementations are exact (layer-level fp32 agreement is
    # tested in test_oversized_conv.py); in fp32 a whole network amplifies
    # their different rounding through LayerNorm to ~1e-2 relative on the
    # small stem gradients.
    torch.manual_seed(0)
    model = ParCNetV2(TINY, train_size=64, layer_scale_init_value=1.).double()
    x = torch.randn(2, 3, 80, 72, dtype=torch.float64)
    grads = {}
    for impl in ('torch', 'fft', 'spatial'):
        with oversized_conv_impl(impl):
            model.zero_grad()
            out = model(x)[0]
            out.square().sum().backward()
        grads[impl] = [out.detach()] + [p.grad.clone()
                                        for p in model.parameters()]
    for impl in ('fft', 'spatial'):
        for a, b in zip(grads['torch'], grads[impl]):
            assert (a - b).abs().max() <= 1e-8 * a.abs().max()


def test_with_cp_matches():
    torch.manual_seed(0)
    a = ParCNetV2(TINY, with_cp=True, train_size=64,
                  layer_scale_init_value=1.)
    b = ParCNetV2(TINY, train_size=64, layer_scale_init_value=1.)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    a(x)[0].sum().backward()
    ga = x.grad.clone()
    x.grad = None
    b(x)[0].sum().backward()
    assert torch.allclose(ga, x.grad, atol=1e-5)


def test_l2_layer_norm():
    norm = L2LayerNorm2d(4)
    norm.weight.data = torch.tensor([1., 2., 3., 4.])
    x = torch.randn(2, 4, 3, 3)
    c = x - x.mean(1, keepdim=True)
    expected = c / c.norm(dim=1, keepdim=True) * norm.weight.view(1, 4, 1,
                                                                   1)
    assert torch.allclose(norm(x), expected, atol=1e-6)
    assert not hasattr(norm, 'bias')


def test_released_variant():
    model = ParCNetV2('release-tiny', out_indices=(0, 1, 2, 3))
    blocks = [b for s in model.stages for b in s.blocks]
    assert all(type(b.spatial).__name__ == 'ReleasedParCMixer'
               for b in blocks)
    # Residual scaling in stages 3-4 only, no LayerScale anywhere.
    assert all(b.gamma1 is None and b.gamma2 is None for b in blocks)
    assert [s.blocks[0].res_scale1 is not None for s in model.stages] == [
        False, False, True, True]
    assert all(isinstance(b.norm1, L2LayerNorm2d) for b in blocks)
    assert isinstance(model.downsample_layers[0][1], L2LayerNorm2d)
    # Oversized and local convs on all channels.
    global_conv = model.stages[0].blocks[0].spatial.global_conv
    assert global_conv.channels == 64
    assert global_conv.kernel_size == (111, 111)
    assert blocks[0].channel.fc2.bias is None
    assert abs(n_params(Classifier(model)) - 24.935e6) < 0.005e6
    assert abs(n_params(Classifier(ParCNetV2('release-xt'))) -
               7.428e6) < 0.005e6
    assert ParCNetV2.arch_zoo['release-base']['channels'] == [
        96, 192, 384, 576]
    assert ParCNetV2.arch_zoo['release-small']['depths'] == [3, 9, 24, 3]
    small = ParCNetV2(dict(ParCNetV2.arch_zoo['release-xt'],
                           depths=[1, 1, 1, 1]), train_size=64,
                      out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    x = torch.randn(1, 3, 67, 45, requires_grad=True)
    outs = small(x)
    assert [o.shape[-2:] for o in outs] == [(17, 11), (9, 6), (5, 3),
                                            (3, 2)]
    sum(o.sum() for o in outs).backward()
    assert small.stages[3].blocks[0].res_scale1.grad is not None


def test_released_variant_dense_outputs_and_fixed_kernels():
    """As the release: L2 output norms for dense prediction (the pooled
    classifier norm stays a LayerNorm) and oversized kernels applied at
    their learned length whatever the input size."""
    arch = dict(ParCNetV2.arch_zoo['release-xt'], depths=[1, 1, 1, 1])
    dense = ParCNetV2(arch, train_size=64, out_indices=(0, 1, 2, 3),
                      gap_before_final_norm=False)
    assert all(isinstance(getattr(dense, f'norm{i}'), L2LayerNorm2d)
               for i in range(4))
    pooled = ParCNetV2(arch, train_size=64)
    assert not isinstance(pooled.norm3, L2LayerNorm2d)
    assert pooled.norm3.bias is not None
    conv = dense.stages[0].blocks[0].spatial.global_conv
    assert not conv.resize_kernel and conv.kernel_size == (31, 31)
    x = torch.randn(1, 48, 20, 12)  # not the 16x16 it was learned at
    kh, kw = conv.kernels_for(20, 12)
    assert kh.shape == (48, 31) and kw.shape == (48, 31)
    with torch.no_grad():
        ref = nn.functional.conv2d(x, conv.weight_h, padding=(15, 0),
                                   groups=48)
        ref = nn.functional.conv2d(ref, conv.weight_w, padding=(0, 15),
                                   groups=48)
        torch.testing.assert_close(conv(x), ref, atol=1e-5, rtol=1e-5)
    # The paper form resizes (2H-1, 2W-1 taps).
    paper = ParCNetV2(TINY, train_size=64).stages[0].blocks[0]
    parc_conv = [m for m in paper.modules()
                 if isinstance(m, OversizedConv2d)][0]
    assert parc_conv.resize_kernel
    assert parc_conv.kernels_for(20, 12)[0].shape[-1] == 39


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='xl'), 'Unknown arch "xl"'),
    (dict(arch=dict(depths=[1], channels=[8], kernel=3)),
     'Unknown arch keys'),
    (dict(arch=dict(depths=[1, 1], channels=[8, 8])), 'same length'),
    (dict(arch=dict(TINY, global_ratios=[0, 0, 2, 1])), 'global_ratios'),
    (dict(arch=dict(TINY, local_kernel_size=4)), 'local_kernel_size'),
    (dict(arch=dict(TINY, norm='GN')), 'arch "norm" must be one of'),
    (dict(arch=dict(TINY, channel_dw_kernel=2)), 'channel_dw_kernel'),
    (dict(arch=dict(TINY, block='v3')), 'arch "block" must be one of'),
    (dict(arch=dict(TINY, resize_kernels=False)), 'needs block "release"'),
    (dict(arch=dict(TINY, resize_kernels=0)), 'resize_kernels" must be a'),
    (dict(arch=TINY, frozen_stages=5), 'frozen_stages'),
    (dict(arch=TINY, train_size=16), 'train_size'),
    (dict(arch=TINY, oversized_impl='cuda'), 'impl must be one of'),
])
def test_bad_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ParCNetV2(**kwargs)


def test_blocks_sit_at_stages_i_blocks_k():
    """Block k of stage i is stages.i.blocks.k, as in LargeKernelConvNeXt;
    the parameter names inside a block are the same in both forms."""
    model = ParCNetV2(TINY, train_size=64)
    keys = list(model.state_dict())
    assert 'stages.1.blocks.0.channel.fc2.weight' in keys
    assert not any(re.match(r'stages\.\d+\.\d+\.', k) for k in keys)
    release = ParCNetV2(dict(TINY, block='release', norm='L2LN'),
                        train_size=64)

    def block_names(m):
        return {re.sub(r'^stages\.\d+\.blocks\.\d+\.', '', k).split('.')[0]
                for k in m.state_dict() if k.startswith('stages.')}

    assert block_names(model) == block_names(release) == {
        'norm1', 'spatial', 'norm2', 'channel', 'gamma1', 'gamma2'}


def _old_keys(state_dict, prefix=''):
    """lkmm's keys before the stages had ``blocks`` (stages.i.k)."""
    return OrderedDict(
        (re.sub(rf'^{re.escape(prefix)}stages\.(\d+)\.blocks\.(\d+)\.',
                rf'{prefix}stages.\1.\2.', k), v.clone())
        for k, v in state_dict.items())


@pytest.mark.parametrize('arch', [TINY, TINY_10M_STYLE])
def test_checkpoints_with_the_old_block_keys_still_load(arch):
    torch.manual_seed(0)
    src = ParCNetV2(arch, train_size=64, layer_scale_init_value=1.).eval()
    old = _old_keys(src.state_dict())
    assert 'stages.2.1.spatial.pwconv1.weight' in old
    assert 'stages.2.blocks.1.spatial.pwconv1.weight' not in old
    torch.manual_seed(1)
    dst = ParCNetV2(arch, train_size=64, layer_scale_init_value=1.).eval()
    dst.load_state_dict(old, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(dst(x)[0], src(x)[0])
    # Inside a model (prefix 'backbone.'), through mmengine's loader too.
    from mmengine.runner.checkpoint import load_state_dict
    wrapped = nn.Module()
    wrapped.backbone = ParCNetV2(arch, train_size=64)
    load_state_dict(wrapped, _old_keys(
        {'backbone.' + k: v for k, v in src.state_dict().items()},
        'backbone.'), strict=True)
    with torch.no_grad():
        assert torch.equal(wrapped.backbone.eval()(x)[0], src(x)[0])
    # The renaming alone, order kept.
    assert list(ParCNetV2.upgrade_legacy_keys(old)) == list(
        src.state_dict())


def test_norm_cfg_overrides_the_arch_norm():
    """norm_cfg=None takes the arch's norm; a norm_cfg given builds the
    same model as the arch norm it stands for, and overrides it."""
    x = torch.randn(2, 3, 64, 64)
    for arch_norm, cfg, layer in (
            ('LN', dict(type='LN2d', eps=1e-6), nn.LayerNorm),
            ('BN', dict(type='BN'), nn.BatchNorm2d),
            ('L2LN', dict(type='L2LN2d'), L2LayerNorm2d)):
        torch.manual_seed(0)
        by_arch = ParCNetV2(dict(TINY, norm=arch_norm), train_size=64,
                            out_indices=(0, 3), gap_before_final_norm=False)
        torch.manual_seed(0)
        by_cfg = ParCNetV2(TINY, train_size=64, norm_cfg=cfg,
                           out_indices=(0, 3), gap_before_final_norm=False)
        assert by_cfg.norm_cfg == by_arch.norm_cfg == cfg
        assert isinstance(by_cfg.stages[0].blocks[0].norm1, layer)
        assert [type(m) for m in by_arch.modules()] == \
            [type(m) for m in by_cfg.modules()]
        by_cfg.load_state_dict(by_arch.state_dict())
        with torch.no_grad():
            for a, b in zip(by_arch.eval()(x), by_cfg.eval()(x)):
                assert torch.equal(a, b)
    # Explicit beats the arch: the 10m arch (BN) with SyncBN, and eps.
    model = ParCNetV2(TINY_10M_STYLE, train_size=64,
                      norm_cfg=dict(type='SyncBN', momentum=0.01))
    norm = model.stages[1].blocks[0].norm2
    assert type(norm) is nn.SyncBatchNorm and norm.momentum == 0.01
    model = ParCNetV2(TINY, train_size=64,
                      norm_cfg=dict(type='LN2d', eps=1e-5,
                                    requires_grad=False))
    norm = model.stages[0].blocks[0].norm1
    assert norm.eps == 1e-5 and not norm.weight.requires_grad
    # The stem and downsampling norms stay LayerNorms (L2 with L2LN2d).
    assert isinstance(model.downsample_layers[1][0], nn.LayerNorm)


@pytest.mark.parametrize('norm_cfg, match', [
    (dict(type='GN'), r"norm_cfg must be a dict with type one of \('LN2d', "
     r"'L2LN2d', 'BN', 'SyncBN'\)"),
    ('BN', 'norm_cfg must be a dict'),
    (dict(type='BN', bogus=1), r"norm_cfg \{'type': 'BN', 'bogus': 1\}"),
])
def test_bad_norm_cfg(norm_cfg, match):
    with pytest.raises(ValueError, match=match):
        ParCNetV2(TINY, train_size=64, norm_cfg=norm_cfg)


def test_paper_and_release_blocks_are_two_classes():
    from lkmm.models.backbones.parcnetv2 import (
        ParCNetV2BlockBase,
        ParCNetV2PaperBlock,
        ParCNetV2ReleaseBlock,
    )
    paper = ParCNetV2(TINY, train_size=64)
    release = ParCNetV2(dict(TINY, block='release'), train_size=64)
    for model, cls in ((paper, ParCNetV2PaperBlock),
                       (release, ParCNetV2ReleaseBlock)):
        blocks = [b for s in model.stages for b in s.blocks]
        assert all(type(b) is cls for b in blocks)
        assert issubclass(cls, ParCNetV2BlockBase)
    # Each takes only what it uses: the ablations are the paper's.
    for name in ('gated', 'oversized', 'global_ratio', 'channel_dw_kernel'):
        assert name in inspect.signature(ParCNetV2PaperBlock).parameters
        assert name not in inspect.signature(
            ParCNetV2ReleaseBlock).parameters
    assert 'resize_kernels' not in inspect.signature(
        ParCNetV2PaperBlock).parameters


@pytest.mark.parametrize('kwargs, match', [
    (dict(gated=False), 'apply to block "paper" only'),
    (dict(uniform=False), 'apply to block "paper" only'),
    (dict(arch=dict(TINY, block='release', channel_dw_kernel=3)),
     'arch "channel_dw_kernel" applies to block "paper" only'),
    (dict(arch=dict(TINY, block='release', oversized_bias=True)),
     'arch "oversized_bias" applies to block "paper" only'),
])
def test_paper_only_settings_refused_with_the_release_block(kwargs, match):
    kwargs.setdefault('arch', dict(TINY, block='release'))
    with pytest.raises(ValueError, match=match):
        ParCNetV2(train_size=64, **kwargs)
