"""SLaK's stripe kernels: Kxw + wxK (+ kxk) conv-BN branches, merged into
one dense KxK depth-wise conv."""
import pytest
import torch
import torch.nn.functional as F

from lkmm.layers import DepthwiseConv2d, ReparamStripeConv


def test_branches_are_stripes_on_lkmm_op():
    layer = ReparamStripeConv(4, 13, stripe_width=5, small_kernel=3)
    assert layer.tall_conv.conv.kernel_size == (13, 5)
    assert layer.wide_conv.conv.kernel_size == (5, 13)
    assert layer.small_conv.conv.kernel_size == (3, 3)
    for branch in (layer.tall_conv, layer.wide_conv, layer.small_conv):
        assert isinstance(branch.conv, DepthwiseConv2d)
        assert branch.conv.uses_fast_op  # 'same' padding, odd sizes
    assert layer.kernel_size == 13 and not layer.deployed


def test_eval_forward_is_the_sum_of_the_branches(randomize_bn):
    torch.manual_seed(0)
    layer = ReparamStripeConv(3, 11, stripe_width=3).double()
    randomize_bn(layer)
    layer.eval()
    x = torch.randn(2, 3, 9, 6, dtype=torch.float64)
    ref = 0
    for branch in (layer.tall_conv, layer.wide_conv, layer.small_conv):
        kh, kw = branch.conv.kernel_size
        y = F.conv2d(x, branch.conv.weight, padding=(kh // 2, kw // 2),
                     groups=3)
        ref = ref + branch.bn(y)
    assert torch.allclose(layer(x), ref, atol=1e-10)


@pytest.mark.parametrize('kernel_size,stripe_width,small_kernel', [
    (13, 5, 5), (31, 5, 5), (13, 3, None), (13, 13, 7), (7, 1, 3)])
@pytest.mark.parametrize('shape', [(2, 3, 9, 14), (1, 3, 5, 3)])
def test_deploy_equivalence(kernel_size, stripe_width, small_kernel, shape,
                            randomize_bn):
    torch.manual_seed(0)
    layer = ReparamStripeConv(3, kernel_size, stripe_width=stripe_width,
                              small_kernel=small_kernel).double()
    randomize_bn(layer)
    layer.eval()
    x = torch.randn(shape, dtype=torch.float64)
    before = layer(x)
    layer.switch_to_deploy()
    assert layer.deployed
    assert not any(hasattr(layer, n)
                   for n in ('tall_conv', 'wide_conv', 'small_conv'))
    assert isinstance(layer.fused_conv, DepthwiseConv2d)
    assert layer.fused_conv.weight.shape == (3, 1, kernel_size, kernel_size)
    assert torch.allclose(layer(x), before, atol=1e-10)
    layer.switch_to_deploy()  # idempotent
    assert torch.allclose(layer(x), before, atol=1e-10)


def test_fused_kernel_outside_the_cross_is_zero(randomize_bn):
    layer = ReparamStripeConv(2, 13, stripe_width=5, small_kernel=None)
    randomize_bn(layer)
    kernel, _ = layer.eval().get_deploy_kernel_bias()
    mask = torch.zeros(13, 13, dtype=torch.bool)
    mask[:, 4:9] = mask[4:9, :] = True
    assert kernel[..., ~mask].abs().max() == 0
    assert kernel[..., mask].abs().min() > 0


def test_deployed_checkpoint_loads_into_deploy_built_layer(randomize_bn):
    torch.manual_seed(0)
    layer = ReparamStripeConv(3, 13)
    randomize_bn(layer)
    layer.eval()
    x = torch.randn(1, 3, 7, 10)
    before = layer(x)
    layer.switch_to_deploy()
    built = ReparamStripeConv(3, 13, deploy=True)
    built.load_state_dict(layer.state_dict())  # strict
    assert torch.allclose(built(x), before, atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match='pos_embed.*peripheral'):
        ReparamStripeConv(3, 13)(torch.randn(1, 3, 8, 8),
                                 torch.zeros(3, 13, 13))
    with pytest.raises(ValueError, match='kernel_size'):
        ReparamStripeConv(3, 12)
    for bad in (4, 15, 0):
        with pytest.raises(ValueError, match='stripe_width'):
            ReparamStripeConv(3, 13, stripe_width=bad)
    for bad in (4, 13):
        with pytest.raises(ValueError, match='small_kernel'):
            ReparamStripeConv(3, 13, small_kernel=bad)
