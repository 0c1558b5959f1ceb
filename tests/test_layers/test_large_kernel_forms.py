"""build_large_kernel_conv (dense / stripe / peripheral) and PartialConv."""
import pytest
import torch
import torch.nn as nn

from lkmm.layers import (
    LARGE_KERNEL_FORMS,
    DenseLargeKernelConv,
    DepthwiseConv2d,
    KernelPositionalEmbedding,
    PartialConv,
    ReparamLargeKernelConv,
    ReparamPeripheralConv,
    ReparamStripeConv,
    build_large_kernel_conv,
)

CLASSES = dict(dense=DenseLargeKernelConv, stripe=ReparamStripeConv,
               peripheral=ReparamPeripheralConv)



def test_forms():
    assert LARGE_KERNEL_FORMS == ('dense', 'stripe', 'peripheral')


@pytest.mark.parametrize('form', LARGE_KERNEL_FORMS)
def test_factory_builds_each_form(form):
    layer = build_large_kernel_conv(form, 4, 13)
    assert type(layer) is CLASSES[form]
    assert layer.kernel_size == 13 and layer.channels == 4
    assert not layer.deployed
    deployed = build_large_kernel_conv(form, 4, 13, deploy=True)
    assert deployed.deployed
    assert isinstance(deployed.fused_conv, DepthwiseConv2d)


def test_dense_form_is_replknets_layer():
    layer = build_large_kernel_conv('dense', 4, 13, small_kernel=3)
    ref = ReparamLargeKernelConv(4, 13, small_kernel=3)
    assert isinstance(layer, ReparamLargeKernelConv)
    assert layer.state_dict().keys() == ref.state_dict().keys()
    layer.load_state_dict(ref.state_dict())
    x = torch.randn(1, 4, 8, 8)
    assert torch.equal(layer(x), ref(x))


def test_factory_passes_form_options():
    stripe = build_large_kernel_conv('stripe', 2, 13, stripe_width=3,
                                     small_kernel=None)
    assert stripe.stripe_width == 3 and not hasattr(stripe, 'small_conv')
    peri = build_large_kernel_conv('peripheral', 2, 51, centre_size=7)
    assert peri.sharing_grid[:8] == (8, 8, 4, 2, 1, 1, 1, 1)
    peri = build_large_kernel_conv('peripheral', 2, 33,
                                   sharing_grid=[4, 4, 4, 2, 1, 1, 1])
    assert len(peri.sharing_grid) == 13


@pytest.mark.parametrize('form', LARGE_KERNEL_FORMS)
@pytest.mark.parametrize('small_kernel', [5, None])
@pytest.mark.parametrize('kernel_size,shape', [
    (13, (2, 3, 9, 14)),  # odd, non-square
    (13, (1, 3, 5, 3)),  # kernel larger than the map
    (31, (1, 3, 7, 10)),
])
def test_deploy_equivalence(form, small_kernel, kernel_size, shape,
                            randomize_bn):
    torch.manual_seed(0)
    layer = build_large_kernel_conv(form, 3, kernel_size,
                                    small_kernel=small_kernel).double()
    randomize_bn(layer)
    layer.eval()
    pos = torch.randn(3, kernel_size, kernel_size, dtype=torch.float64) \
        if form == 'peripheral' else None
    x = torch.randn(shape, dtype=torch.float64)
    with torch.no_grad():
        before = layer(x, pos)
        layer.switch_to_deploy()
        assert layer.deployed
        assert torch.allclose(layer(x, pos), before, atol=1e-10)
        # A layer built deployed loads the deployed weights strictly.
        built = build_large_kernel_conv(form, 3, kernel_size,
                                        small_kernel=small_kernel,
                                        deploy=True).double()
        built.load_state_dict(layer.state_dict())
        assert torch.allclose(built(x, pos), before, atol=1e-10)


@pytest.mark.parametrize('form', LARGE_KERNEL_FORMS)
def test_float32_train_step(form):
    torch.manual_seed(0)
    layer = build_large_kernel_conv(form, 3, 31)
    x = torch.randn(2, 3, 9, 12, requires_grad=True)
    layer(x).square().mean().backward()
    assert x.grad is not None
    assert all(p.grad is not None for p in layer.parameters())


def test_factory_errors():
    with pytest.raises(ValueError, match="form.*'dense'.*'stripe'.*"
                                         "'peripheral'.*'sparse'"):
        build_large_kernel_conv('sparse', 4, 13)
    for form in ('dense', 'stripe'):
        with pytest.raises(ValueError, match='sharing_grid'):
            build_large_kernel_conv(form, 4, 13, sharing_grid=[2, 2, 1, 1, 1])
        layer = build_large_kernel_conv(form, 4, 13)
        with pytest.raises(ValueError, match='pos_embed.*peripheral'):
            layer(torch.randn(1, 4, 6, 6), torch.zeros(4, 13, 13))
    with pytest.raises(ValueError, match='kernel_size'):
        build_large_kernel_conv('dense', 4, 12)


# ---------------------------------------------------------- PartialConv


@pytest.mark.parametrize('channels,conv', [
    # PeLK-T/S widths int(1.3 * [96, 192, 384, 768]) and PeLK-B's.
    (124, 46), (249, 93), (499, 187), (998, 374),
    (166, 62), (332, 124), (665, 249), (1331, 499),
])
def test_split_channels_of_pelk_widths(channels, conv):
    assert PartialConv.split_channels(channels, 3 / 8) == \
        (conv, channels - conv)
    assert conv == int(channels * 3 / 8)  # InceptionNeXt's rule agrees


def test_split_channels_rounding():
    assert PartialConv.split_channels(100, 0.29) == (29, 71)  # no float trap
    assert PartialConv.split_channels(10, 0.25) == (2, 8)  # 2.5 -> 2
    assert PartialConv.split_channels(10, 0.35) == (3, 7)  # 3.5 -> 3
    assert PartialConv.split_channels(10, 0.37) == (4, 6)  # nearest
    assert PartialConv.split_channels(8, 1) == (8, 0)
    with pytest.raises(ValueError, match='at least 1'):
        PartialConv.split_channels(3, 0.1)
    for bad in (0, 1.5, -0.1, True, '3/8'):
        with pytest.raises(ValueError, match='ratio'):
            PartialConv.split_channels(8, bad)
    with pytest.raises(ValueError, match='channels'):
        PartialConv.split_channels(0, 0.5)


@pytest.mark.parametrize('form', LARGE_KERNEL_FORMS)
def test_partial_conv_identity_part_untouched(form):
    torch.manual_seed(0)
    g, _ = PartialConv.split_channels(124, 3 / 8)
    layer = PartialConv(build_large_kernel_conv(form, g, 13), 124)
    assert layer.conv_channels == 46 and layer.kernel_size == 13
    pos = KernelPositionalEmbedding(g, 13).weight \
        if form == 'peripheral' else None
    x = torch.randn(2, 124, 6, 5, requires_grad=True)
    out = layer(x, pos)
    assert out.shape == x.shape
    assert torch.equal(out[:, g:], x[:, g:])
    assert torch.equal(out[:, :g], layer.conv(x[:, :g], pos))
    upstream = torch.randn_like(out)
    out.backward(upstream)
    assert torch.equal(x.grad[:, g:], upstream[:, g:])
    if pos is not None:
        assert pos.grad is not None


def test_partial_conv_deploys_and_wraps_plain_modules(randomize_bn):
    torch.manual_seed(0)
    layer = PartialConv(build_large_kernel_conv('peripheral', 3, 13), 8)
    randomize_bn(layer)
    layer.eval()
    pos = torch.randn(3, 13, 13)
    x = torch.randn(1, 8, 7, 9)
    before = layer(x, pos)
    layer.switch_to_deploy()
    assert layer.deployed and layer.conv.deployed
    assert torch.allclose(layer(x, pos), before, atol=1e-5)
    # Any module: called without pos_embed when none is given.
    plain = PartialConv(nn.Conv2d(2, 2, 3, padding=1, groups=2), 4, 0.5)
    y = plain(x[:, :4])
    assert torch.equal(y[:, 2:], x[:, 2:4])
    full = PartialConv(build_large_kernel_conv('dense', 8, 13), 8, 1.)
    assert full.conv_channels == 8 and full(x).shape == x.shape


def test_partial_conv_errors():
    with pytest.raises(ValueError, match='3 of 8'):
        PartialConv(build_large_kernel_conv('stripe', 4, 13), 8)
    layer = PartialConv(build_large_kernel_conv('stripe', 3, 13), 8)
    with pytest.raises(ValueError, match=r'\(N, 8, H, W\)'):
        layer(torch.randn(1, 6, 5, 5))
