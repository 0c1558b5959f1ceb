"""lkmm.analysis.kernels: the deployed kernel of every kind of large
depth-wise layer, its aggregate against a hand computation, the layer
search and the paper's default layer."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from PIL import Image

from lkmm.analysis.kernels import (
    aggregate_kernel,
    default_kernel_layer,
    deploy_kernel,
    find_kernel_layers,
    format_kernel_layers,
    kernel_heatmap_png,
    kernel_summary,
    layer_input_sizes,
    rescale_kernel,
    select_kernel_layer,
)
from lkmm.layers import (
    ConvBN,
    DepthwiseConv2d,
    OversizedConv2d,
    ReparamLargeKernelConv,
    build_large_kernel_conv,
)
from lkmm.registry import MODELS


def bn_scale(bn):
    return (bn.weight / (bn.running_var + bn.eps).sqrt()).view(-1, 1, 1, 1)


def test_replknet_layer_aggregate_by_hand(randomize_bn):
    torch.manual_seed(0)
    conv = randomize_bn(ReparamLargeKernelConv(6, 7, small_kernel=3)).eval()
    large = conv.large_conv.conv.weight * bn_scale(conv.large_conv.bn)
    small = conv.small_conv.conv.weight * bn_scale(conv.small_conv.bn)
    kernel = large.clone()
    kernel[:, :, 2:5, 2:5] += small
    expected = kernel.abs().sum(dim=(0, 1)).detach().double().numpy()
    layer, = find_kernel_layers(conv)
    assert (layer.name, layer.kind, layer.size) == ('', 'reparam', (7, 7))
    got = aggregate_kernel(deploy_kernel(layer))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # The comparison can tell: without the small branch, or without the
    # BN, the aggregate differs.
    no_small = large.abs().sum(dim=(0, 1)).detach().double().numpy()
    raw = conv.large_conv.conv.weight.clone()
    raw[:, :, 2:5, 2:5] += conv.small_conv.conv.weight
    no_bn = raw.abs().sum(dim=(0, 1)).detach().double().numpy()
    for wrong in (no_small, no_bn):
        assert np.abs(wrong - expected).max() > 0.1 * expected.max()
    # Deployment in place (switch_to_deploy) gives the same kernel.
    conv.switch_to_deploy()
    layer, = find_kernel_layers(conv)
    np.testing.assert_allclose(aggregate_kernel(deploy_kernel(layer)),
                               expected, rtol=1e-5)


def test_conv_bn_without_reparam_fuses_the_bn(randomize_bn):
    torch.manual_seed(1)
    unit = randomize_bn(ConvBN(5, 5, 9, groups=5)).eval()
    expected = (unit.conv.weight * bn_scale(unit.bn)).abs().sum(
        dim=(0, 1)).detach().double().numpy()
    layer, = find_kernel_layers(unit)
    assert (layer.name, layer.kind) == ('conv', 'conv-bn')
    np.testing.assert_allclose(aggregate_kernel(deploy_kernel(layer)),
                               expected, rtol=1e-5)
    raw = unit.conv.weight.abs().sum(dim=(0, 1)).detach().double().numpy()
    assert np.abs(raw - expected).max() > 0.1 * expected.max()


def _linear_part(fn, x):
    """The input-linear part of an affine map: ``fn(x) - fn(0)``."""
    with torch.no_grad():
        return fn(x) - fn(torch.zeros_like(x))


def _by_conv(kernel, x, stride=1):
    kh, kw = kernel.shape[-2:]
    return F.conv2d(x, kernel, stride=stride, padding=(kh // 2, kw // 2),
                    groups=kernel.shape[0])


def _mmpretrain_reparam():
    from mmpretrain.models.backbones.replknet import ReparamLargeKernelConv
    return ReparamLargeKernelConv(4, 4, 9, 1, 4, 5)


CASES = {  # name: (module, its eval forward on a 16x16 input or None)
    'dense': lambda: build_large_kernel_conv('dense', 4, 9, 3),
    'stripe': lambda: build_large_kernel_conv('stripe', 4, 9, 3,
                                              stripe_width=3),
    'peripheral': lambda: build_large_kernel_conv('peripheral', 4, 11, 3,
                                                  centre_size=3),
    'no-small': lambda: build_large_kernel_conv('dense', 4, 9, None),
    'dilated-reparam': lambda: ReparamLargeKernelConv(4, 5, 3, dilation=2),
    'mmpretrain': _mmpretrain_reparam,
    'conv-bn': lambda: ConvBN(4, 4, 7, groups=4),
    'sequential': lambda: nn.Sequential(nn.Conv2d(4, 4, 7, padding=3,
                                                  groups=4),
                                        nn.BatchNorm2d(4), nn.ReLU()),
    'conv-module': lambda: ConvModule(4, 4, 7, padding=3, groups=4,
                                      norm_cfg=dict(type='BN'),
                                      act_cfg=None),
    'dilated': lambda: nn.Conv2d(4, 4, 3, padding=4, dilation=4, groups=4),
    'bare': lambda: DepthwiseConv2d(4, 7, bias=True),
    'oversized': lambda: OversizedConv2d(4, 16, bias=True),
}


@pytest.mark.parametrize('case', list(CASES))
def test_folded_kernel_is_the_layer_as_one_convolution(case, randomize_bn):
    """The layer in eval mode minus its output at zero input equals one
    dense depth-wise convolution with the deployed kernel (for the oversized
    conv: at its base size, 16x16)."""
    torch.manual_seed(2)
    module = randomize_bn(CASES[case]()).eval()
    layer, = find_kernel_layers(module)
    kernel = deploy_kernel(layer)
    x = torch.randn(2, 4, 16, 16)
    if layer.kind == 'conv-bn':
        def forward(t):
            return layer.norm(layer.module(t))
    else:
        forward = module
    torch.testing.assert_close(_linear_part(forward, x), _by_conv(kernel, x),
                               rtol=1e-4, atol=1e-4)
    assert tuple(kernel.shape[-2:]) == layer.size


def test_small_kernels_and_other_convs_are_not_candidates():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 7, padding=3),                # not depth-wise
        ConvBN(8, 8, 3, groups=8),                    # 3x3 < 5
        nn.Conv2d(8, 16, 5, padding=2, groups=8),     # channel multiplier
        nn.Conv2d(16, 16, 5, padding=2, groups=16))   # the one
    assert [(la.name, la.kind) for la in find_kernel_layers(model)] == \
        [('3', 'conv')]
    assert len(find_kernel_layers(model, min_kernel=3)) == 2
    assert find_kernel_layers(nn.Linear(2, 2)) == []


def _replknet(**kwargs):
    return MODELS.build(dict(
        type='lkmm.RepLKNet', arch=dict(channels=[8, 8, 8, 8],
                                        layers=[1, 1, 2, 1],
                                        kernel_sizes=[13, 11, 9, 7],
                                        small_kernel=3), **kwargs)).eval()


class Fork(nn.Module):
    """Two large kernels on one input, the stride-2 one first."""

    def __init__(self):
        super().__init__()
        self.same = DepthwiseConv2d(3, 7)
        self.down = DepthwiseConv2d(3, 7, stride=2)

    def forward(self, x):
        return self.down(x), self.same(x)


def test_default_is_the_first_stride_one_layer_of_the_last_stage():
    model = _replknet()
    layers = find_kernel_layers(model)
    assert [la.name for la in layers] == [
        'stages.0.0.large_kernel', 'stages.1.0.large_kernel',
        'stages.2.0.large_kernel', 'stages.2.2.large_kernel',
        'stages.3.0.large_kernel']
    sizes = layer_input_sizes(lambda: model(torch.zeros(1, 3, 64, 64)),
                              layers)
    assert list(sizes.values()) == [(16, 16), (8, 8), (4, 4), (4, 4),
                                    (2, 2)]
    assert default_kernel_layer(layers, sizes).name == \
        'stages.3.0.large_kernel'
    table = format_kernel_layers(layers, sizes, 'stages.3.0.large_kernel')
    assert table.splitlines()[-1].split() == [
        '*', 'stages.3.0.large_kernel', 'reparam', '7x7', '1', '2x2']
    # A last stage that starts with a stride-2 layer (MobileNetV2): that
    # layer's input is the previous stage's map, so it is not chosen.
    dw = [DepthwiseConv2d(3, 7), DepthwiseConv2d(3, 7, stride=2),
          DepthwiseConv2d(3, 7), DepthwiseConv2d(3, 7)]
    model = nn.Sequential(*dw)
    layers = find_kernel_layers(model)
    sizes = layer_input_sizes(lambda: model(torch.zeros(1, 3, 16, 16)),
                              layers)
    assert sizes == {'0': (16, 16), '1': (16, 16), '2': (8, 8),
                     '3': (8, 8)}
    assert default_kernel_layer(layers, sizes).name == '2'
    # On the smallest map, a stride-1 layer wins over a stride-2 one that
    # runs before it.
    model = Fork()
    layers = find_kernel_layers(model)
    sizes = layer_input_sizes(lambda: model(torch.zeros(1, 3, 16, 16)),
                              layers)
    assert list(sizes) == ['down', 'same']
    assert default_kernel_layer(layers, sizes).name == 'same'
    # Only stride-2 layers on the smallest map: the first of them.
    model = nn.Sequential(DepthwiseConv2d(3, 7, stride=2),
                          DepthwiseConv2d(3, 7, stride=2))
    layers = find_kernel_layers(model)
    sizes = layer_input_sizes(lambda: model(torch.zeros(1, 3, 16, 16)),
                              layers)
    assert default_kernel_layer(layers, sizes).name == '1'
    with pytest.raises(ValueError, match='none of the large-kernel layers'):
        default_kernel_layer(layers, {})


def test_select_by_layer_or_block_name():
    model = _replknet()
    layers = find_kernel_layers(model)
    assert select_kernel_layer(layers, 'stages.1.0.large_kernel',
                               model).name == 'stages.1.0.large_kernel'
    assert select_kernel_layer(layers, 'stages.2.2', model).name == \
        'stages.2.2.large_kernel'
    with pytest.raises(KeyError, match='stages.2 holds 2 large-kernel'):
        select_kernel_layer(layers, 'stages.2', model)
    with pytest.raises(KeyError, match="no large-kernel layer 'stem.0'"):
        select_kernel_layer(layers, 'stem.0', model)
    with pytest.raises(KeyError, match="no large-kernel layer 'nope'.*"
                       'stages.0.0.large_kernel'):
        select_kernel_layer(layers, 'nope', model)


def test_rescale_and_summary():
    matrix = np.ones((5, 5))       # rest: 1
    matrix[2, :] = matrix[:, 2] = 2.   # skeleton: 2
    matrix[1:4, 1:4] = 4.          # centre 3x3: 4
    matrix[2, 2] = 8.              # centre: 8
    scaled = rescale_kernel(matrix)
    assert scaled.max() == 1. and scaled.min() == 1 / 8
    summary = kernel_summary(matrix)
    assert summary == pytest.approx(dict(
        centre=1., centre_3x3=(8 + 8 * 4) / 9 / 8, skeleton=2 / 8,
        rest=1 / 8))
    np.testing.assert_array_equal(rescale_kernel(np.zeros((3, 3))), 0)


def test_heatmap_has_one_panel_per_matrix(tmp_path):
    for count in (1, 2):
        png = kernel_heatmap_png([np.random.rand(7, 7)] * count,
                                 [f'm{i}' for i in range(count)])
        path = tmp_path / f'{count}.png'
        path.write_bytes(png)
        with Image.open(path) as img:
            assert img.size == (400 * count, 400)
    with pytest.raises(ValueError, match='1 titles for 2 matrices'):
        kernel_heatmap_png([np.ones((3, 3))] * 2, ['a'])
