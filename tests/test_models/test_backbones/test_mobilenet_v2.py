"""LargeKernelMobileNetV2: the MobileNetV2 of RepLKNet's large-kernel
guidelines (paper Sec. 3, Tables 2-4; Table 12 dense vs dilated)."""
import pytest
import torch
from mmengine.config import Config

import lkmm  # noqa: F401
from lkmm.analysis import inference_complexity, to_deploy_form
from lkmm.engine.runner import build_model_from_cfg
from lkmm.layers import ReparamLargeKernelConv
from lkmm.models import LargeKernelMobileNetV2
from lkmm.models.backbones.mobilenet_v2 import kernel_reach

# Small widths, every structural feature of the full model (an expansion-1
# stem block, several groups per stage, stride-2 and stride-1 blocks).
TINY = dict(stem_channels=[8, 8], channels=[[8], [16], [16, 24], [24, 32]],
            repeats=[[2], [2], [2, 1], [2, 1]], expand_ratio=2)


def tiny(**arch):
    return dict(TINY, **arch)


def blocks(model):
    """``(stage, block)`` of every inverted residual (the stem's is stage
    0, as its kernel)."""
    found = [(0, model.stem[1])]
    for i, stage in enumerate(model.stages):
        found += [(i, b) for b in stage]
    return found


def classifier(arch, **backbone):
    cfg = Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='lkmm.LargeKernelMobileNetV2', arch=arch,
                          **backbone),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=1000,
                      in_channels=1280))))
    return build_model_from_cfg(cfg)


@pytest.mark.parametrize('arch,kwargs,message', [
    (tiny(kernel_sizes=[3, 4, 3, 3]), {},
     r'arch "kernel_sizes" must hold positive odd integers'),
    (tiny(kernel_sizes=[3] * 4, kernel_dilations=[1, 0, 1, 1]), {},
     r'arch "kernel_dilations" must hold positive integers'),
    (tiny(kernel_sizes=[9] * 4, small_kernel=4), {},
     r'arch "small_kernel" must be a positive odd integer or None'),
    (tiny(kernel_sizes=[3] * 4, small_kernel=3), {},
     r'arch "small_kernel" \(3\) must be smaller than some kernel'),
    (tiny(kernel_sizes=[3] * 4, shortcut='no'), {},
     r'arch "shortcut" must be True or False'),
    (tiny(kernel_sizes=[3] * 4, expand_ratio=0), {},
     r'arch "expand_ratio" must be a positive number'),
    (tiny(kernel_sizes=[3] * 4, stem_channels=[8]), {},
     r'arch "stem_channels" must be two positive integers'),
    (tiny(kernel_sizes=[3] * 4, channels=[[8], [], [16], [24]]), {},
     r'arch "channels" must hold one non-empty list of positive integers'),
    (tiny(kernel_sizes=[3] * 4, repeats=[[2], [2], [2], [2, 1]]), {},
     r'arch "channels" and "repeats" must have one entry per group'),
    (tiny(kernel_sizes=[3] * 3), {},
     r'arch "channels", "repeats", "kernel_sizes", "kernel_dilations" must '
     r'have the same length'),
    (tiny(kernel_sizes=[3] * 4), dict(strides=(2, 2, 3, 2)),
     r'strides must hold 4 entries, each one of \(1, 2\)'),
    (tiny(kernel_sizes=[3] * 4), dict(dilations=(1, 1, 2)),
     r'dilations must hold 4 entries, each a positive int'),
    (tiny(kernel_sizes=[3] * 4), dict(final_channels=0),
     r'final_channels must be a positive int or None'),
    (tiny(kernel_sizes=[3] * 4), dict(out_indices=(0, 2)),
     r'final_channels=1280 builds a conv on the last stage \(3\), which '
     r'out_indices \(0, 2\) does not return; set final_channels=None'),
    ('k11', {}, r'Unknown arch "k11" for LargeKernelMobileNetV2; choose one '
     r"of \['k13', 'k13-noshortcut'"),
])
def test_bad_arguments_are_named(arch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        LargeKernelMobileNetV2(arch, **kwargs)


# arch: (kernel of stage 0..3, dilation, small kernel, shortcut)
ROWS = {
    'k3': ([3, 3, 3, 3], 1, None, True),
    'k3-noshortcut': ([3, 3, 3, 3], 1, None, False),
    'k9': ([9, 9, 9, 9], 1, None, True),
    'k9-rep3': ([9, 9, 9, 9], 1, 3, True),
    'k13': ([13, 13, 13, 13], 1, None, True),
    'k13-noshortcut': ([13, 13, 13, 13], 1, None, False),
    'k13-rep3': ([13, 13, 13, 13], 1, 3, True),
    'last7-rep3': ([3, 3, 3, 7], 1, 3, True),
    'last13-rep3': ([3, 3, 3, 13], 1, 3, True),
    'k17': ([17, 17, 17, 17], 1, None, True),
    'k3-dil4': ([3, 3, 3, 3], 4, None, True),
    'k3-dil6': ([3, 3, 3, 3], 6, None, True),
    'k3-dil8': ([3, 3, 3, 3], 8, None, True),
}


def test_zoo_is_the_table_rows():
    assert sorted(LargeKernelMobileNetV2.arch_zoo) == sorted(ROWS)


@pytest.mark.parametrize('arch', sorted(ROWS))
def test_every_depthwise_conv_has_its_stage_kernel(arch):
    """The kernels really built: size, dilation and the small branch of
    every depth-wise conv, and which blocks add their input."""
    kernels, dilation, small, shortcut = ROWS[arch]
    model = LargeKernelMobileNetV2(arch)
    found = blocks(model)
    assert len(found) == 17  # MobileNetV2's 17 inverted residuals
    for stage, block in found:
        dw = block.dw_conv
        k = kernels[stage]
        large = dw.large_conv.conv
        assert large.weight.shape[-2:] == (k, k)
        assert large.dilation == (dilation, dilation)
        assert large.padding == (dilation * (k // 2), ) * 2
        branch = getattr(dw, 'small_conv', None)
        if small is not None and k > small:
            assert branch.conv.weight.shape[-2:] == (small, small)
            assert branch.conv.dilation == (dilation, dilation)
        else:
            assert branch is None
    # MobileNetV2's identity shortcuts: the stride-1 blocks after the first
    # of each group (1 + 2 + 3 + 2 + 2 = 10), none in the shortcut-free one.
    assert sum(b.has_shortcut for _, b in found) == (10 if shortcut else 0)
    # The paper's last stage: the blocks on 7x7 maps (160 and 320 wide),
    # the first one bringing 14x14 down to 7x7.
    last = model.stages[3]
    assert [b.project_conv.conv.out_channels for b in last] == [160] * 3 + \
        [320]
    assert last[0].dw_conv.stride == 2


def test_layout_and_outputs_are_mobilenet_v2s():
    model = LargeKernelMobileNetV2('k3', out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 224, 224))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (24, 56, 56), (32, 28, 28), (96, 14, 14), (1280, 7, 7)]
    assert model.channels == [24, 32, 96, 1280]
    segment = LargeKernelMobileNetV2(
        'k3', out_indices=(0, 1, 2, 3), strides=(2, 2, 1, 1),
        dilations=(1, 1, 2, 4), final_channels=None)
    assert segment.channels == [24, 32, 96, 320]
    assert segment.final_conv is None


def _copy_in_order(source, target):
    """Load ``source``'s tensors into ``target`` in state-dict order (the
    same layers in the same order, different names)."""
    src, dst = source.state_dict(), target.state_dict()
    assert len(src) == len(dst)
    pairs = list(zip(dst.items(), src.values()))
    assert all(a.shape == b.shape for (_, a), b in pairs)
    target.load_state_dict({name: value for (name, _), value in pairs})


def test_same_network_as_mmpretrain_and_mmseg_mobilenet_v2(randomize_bn):
    """'k3' is mmpretrain's MobileNetV2 1.0x (outputs equal for equal
    weights), and the segmentation wiring is mmseg's output-stride-8
    MobileNetV2 of its DeepLabv3+ configs."""
    from mmpretrain.models.backbones import MobileNetV2 as PretrainMobileNet
    from mmseg.models.backbones import MobileNetV2 as SegMobileNet
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    cases = [
        (PretrainMobileNet(out_indices=(1, 2, 4, 7)),
         LargeKernelMobileNetV2('k3', out_indices=(0, 1, 2, 3))),
        (SegMobileNet(strides=(1, 2, 2, 1, 1, 1, 1),
                      dilations=(1, 1, 1, 2, 2, 4, 4),
                      out_indices=(1, 2, 4, 6)),
         LargeKernelMobileNetV2('k3', out_indices=(0, 1, 2, 3),
                                strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4),
                                final_channels=None)),
    ]
    for reference, ours in cases:
        randomize_bn(reference)
        reference.eval()  # their train() returns None
        _copy_in_order(reference, ours)
        with torch.no_grad():
            for a, b in zip(reference(x), ours.eval()(x)):
                assert a.shape == b.shape
                torch.testing.assert_close(b, a, rtol=0, atol=1e-6)


def _zero_residual_branches(model):
    """Make every block's branch output exactly zero (eval mode), so a
    block returns its input if it adds it and zeros if not."""
    with torch.no_grad():
        for _, block in blocks(model):
            bn = block.project_conv.bn
            bn.weight.zero_()
            bn.bias.zero_()
            bn.running_mean.zero_()


@pytest.mark.parametrize('shortcut', [True, False])
def test_shortcut_flag_decides_whether_blocks_add_their_input(shortcut):
    model = LargeKernelMobileNetV2(tiny(kernel_sizes=[5, 5, 3, 3],
                                        shortcut=shortcut),
                                   final_channels=None).eval()
    _zero_residual_branches(model)
    block = model.stages[1][1]  # stride 1, 16 -> 16 channels
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        out = block(x)
    if shortcut:
        torch.testing.assert_close(out, x, rtol=0, atol=0)
    else:
        assert torch.count_nonzero(out) == 0
    # A block that changes the shape never adds its input.
    with torch.no_grad():
        assert torch.count_nonzero(model.stages[1][0](x[:, :8])) == 0


def test_folding_is_exact_in_float64(randomize_bn):
    """switch_to_deploy deploys the 3x3 branch and every BN of the depth-wise
    convs into one kernel with bias: equal outputs in float64 with random
    BN statistics, at every stride, dilation and kernel form."""
    torch.manual_seed(0)
    archs = [
        (tiny(kernel_sizes=[9, 7, 13, 5], small_kernel=3), {}),
        (tiny(kernel_sizes=[9, 3, 13, 7], small_kernel=3,
              kernel_dilations=[1, 2, 1, 1], shortcut=False),
         dict(strides=(2, 2, 1, 1), dilations=(1, 1, 2, 4),
              final_channels=None)),
    ]
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    for arch, kwargs in archs:
        model = LargeKernelMobileNetV2(arch, out_indices=(0, 1, 2, 3),
                                       **kwargs)
        model.init_weights()
        randomize_bn(model).double().eval()
        convs = [b.dw_conv for _, b in blocks(model)]
        assert any(hasattr(dw, 'small_conv') for dw in convs)
        dilations = [dw.large_conv.conv.dilation for dw in convs]
        assert (2, 2) in dilations and (4, 4) in dilations or not kwargs
        with torch.no_grad():
            before = model(x)
            model.switch_to_deploy()
            after = model(x)
        for dw, dilation in zip(convs, dilations):
            assert dw.deployed and not hasattr(dw, 'small_conv')
            assert dw.fused_conv.weight.shape[-1] == dw.kernel_size
            assert dw.fused_conv.dilation == dilation
        for a, b in zip(before, after):
            torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)


def _reach(module, channels, size=41):
    """Side of the square of outputs an impulse at the centre changes."""
    x = torch.zeros(1, channels, size, size, dtype=torch.float64)
    with torch.no_grad():
        base = module(x)
        x[..., size // 2, size // 2] = 1
        change = (module(x) - base).abs().sum((0, 1))
    # (lkmm's op may take the FFT for a large kernel: round-off elsewhere)
    changed = change > 1e-9 * change.max()
    rows = changed.any(1).nonzero()
    cols = changed.any(0).nonzero()
    return (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)


@pytest.mark.parametrize('dilation', [4, 6, 8])
def test_dilated_3x3_reaches_as_far_as_the_dense_kernel(dilation):
    """Table 12's pairs: a 3x3 kernel dilated r spans the same square as a
    dense (2r + 1)x(2r + 1) one (measured on the built convs), with the
    parameters of a 3x3."""
    dense_size = kernel_reach(3, dilation)
    assert dense_size == 2 * dilation + 1
    rows = LargeKernelMobileNetV2.arch_zoo
    dilated = LargeKernelMobileNetV2(tiny(**rows[f'k3-dil{dilation}']))
    dense = LargeKernelMobileNetV2(tiny(**rows[f'k{dense_size}']))
    reaches = []
    for model in (dilated, dense):
        conv = model.stages[1][1].dw_conv.double().eval()  # stride 1
        reaches.append(_reach(conv, conv.channels))
    assert reaches == [(dense_size, dense_size)] * 2
    plain = LargeKernelMobileNetV2(tiny(kernel_sizes=[3] * 4))
    count = [sum(p.numel() for p in m.parameters())
             for m in (dilated, plain)]
    assert count[0] == count[1]


# Parameters of the 1000-class classifier, training form / deployed
# (measured; the paper reports none for these models).
PARAMS = {
    'k3': (3504872, 3497736),
    'k3-noshortcut': (3504872, 3497736),
    'k9': (4018664, 4011528),
    'k9-rep3': (4097160, 4011528),
    'k13': (4646632, 4639496),
    'k13-noshortcut': (4646632, 4639496),
    'k13-rep3': (4725128, 4639496),
    'last7-rep3': (3681128, 3635976),
    'last13-rep3': (4095848, 4050696),
    'k17': (5502952, 5495816),
    'k3-dil4': (3504872, 3497736),
    'k3-dil6': (3504872, 3497736),
    'k3-dil8': (3504872, 3497736),
}


@pytest.mark.parametrize('arch', sorted(PARAMS))
def test_parameter_counts(arch):
    model = classifier(arch)
    train, folded = PARAMS[arch]
    assert sum(p.numel() for p in model.parameters()) == train
    assert sum(p.numel() for p in to_deploy_form(model).parameters()) \
        == folded


def test_flops_of_the_baseline_and_the_13x13_model():
    """mmengine's count of the deployed classifier at 224 (one multiply-add =
    one FLOP; get_flops.py prints 0.31G and 0.68G): 13x13 kernels add
    119% to MobileNetV2's FLOPs, 3x3 dilated ones nothing."""
    flops = {arch: inference_complexity(classifier(arch),
                                        (3, 224, 224))['flops']
             for arch in ('k3', 'k13')}
    assert flops == {'k3': 309589568, 'k13': 677881408}


def test_reparam_conv_takes_a_dilation():
    """The layer the backbone uses: a dilated large kernel with its small
    branch merges into one dilated kernel."""
    torch.manual_seed(0)
    conv = ReparamLargeKernelConv(4, 7, 3, dilation=3).double().eval()
    assert conv.large_conv.conv.padding == (9, 9)
    x = torch.randn(1, 4, 20, 20, dtype=torch.float64)
    with torch.no_grad():
        before = conv(x)
        conv.switch_to_deploy()
        after = conv(x)
    assert conv.fused_conv.dilation == (3, 3)
    torch.testing.assert_close(after, before, rtol=1e-12, atol=1e-12)
