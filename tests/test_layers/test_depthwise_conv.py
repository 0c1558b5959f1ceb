"""DepthwiseConv2d is an nn.Conv2d that runs lkmm's op, and RepLKNet's
depth-wise convolutions (training and deployed forms) use it."""
import pytest
import torch
import torch.nn as nn

from lkmm.layers import ConvBN, DepthwiseConv2d, ReparamLargeKernelConv
from lkmm.models.backbones import RepLKNet
from lkmm.ops import depthwise_conv_impl

TINY = dict(channels=[8, 16, 16, 16], layers=[1, 1, 1, 1],
            kernel_sizes=[31, 29, 15, 13], small_kernel=5)


def test_is_a_conv2d_with_the_same_state_dict():
    conv = DepthwiseConv2d(6, 31, bias=True)
    ref = nn.Conv2d(6, 6, 31, padding=15, groups=6, bias=True)
    assert isinstance(conv, nn.Conv2d) and conv.uses_fast_op
    assert conv.state_dict().keys() == ref.state_dict().keys()
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(2, 6, 12, 9)
    with depthwise_conv_impl('fft'):
        assert torch.allclose(conv(x), ref(x), atol=1e-5)


@pytest.mark.parametrize('kwargs', [dict(stride=2), dict(padding=0),
                                    dict(kernel_size=4)])
def test_other_settings_fall_back_to_conv2d(kwargs):
    args = dict(channels=4, kernel_size=5)
    args.update(kwargs)
    conv = DepthwiseConv2d(**args)
    assert not conv.uses_fast_op
    ref = nn.Conv2d(4, 4, conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, groups=4, bias=False)
    ref.load_state_dict(conv.state_dict())
    x = torch.randn(1, 4, 11, 11)
    with depthwise_conv_impl('fft'):
        assert torch.equal(conv(x), ref(x))


def test_conv_bn_uses_it_for_depthwise_only():
    assert isinstance(ConvBN(8, 8, 7, groups=8).conv, DepthwiseConv2d)
    assert type(ConvBN(8, 16, 1).conv) is nn.Conv2d
    assert type(ConvBN(8, 8, 3, groups=2).conv) is nn.Conv2d


def test_large_kernel_uses_it_in_training_and_deployed_form():
    layer = ReparamLargeKernelConv(8, 31, 5)
    assert isinstance(layer.large_conv.conv, DepthwiseConv2d)
    assert isinstance(layer.small_conv.conv, DepthwiseConv2d)
    layer.eval().switch_to_deploy()
    assert isinstance(layer.fused_conv, DepthwiseConv2d)
    assert layer.fused_conv.bias is not None


def test_backbone_train_step_equals_reference_path():
    """Forward and every parameter gradient of a RepLKNet with lkmm's op
    (FFT for the 31/29/15 kernels) equal the plain nn.Conv2d path."""
    torch.manual_seed(0)
    model = RepLKNet(arch=TINY, out_indices=(0, 1, 2, 3))
    kinds = {type(m) for m in model.modules() if isinstance(m, nn.Conv2d)
             and m.groups > 1}
    assert kinds == {DepthwiseConv2d}
    x = torch.randn(2, 3, 64, 64)
    results = {}
    for impl in ('torch', 'auto'):
        model.zero_grad()
        with depthwise_conv_impl(impl):
            outs = model(x)
            sum(o.square().mean() for o in outs).backward()
        results[impl] = ([o.detach() for o in outs], {
            n: p.grad.clone() for n, p in model.named_parameters()})
    (ref_outs, ref_grads), (outs, grads) = results['torch'], results['auto']
    for a, b in zip(outs, ref_outs):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
    for name, g in ref_grads.items():
        tol = 1e-4 * max(g.abs().max().item(), 1.)
        assert (grads[name] - g).abs().max().item() <= tol, name
