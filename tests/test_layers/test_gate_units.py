"""ParCNetV2's bifurcate gate units and ParC branch (Sec. 3.2-3.3)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lkmm.layers import ChannelBGU, ParCBranch, ReleasedParCMixer, SpatialBGU


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_channel_bgu_formula_and_params():
    torch.manual_seed(0)
    c = 8
    m = ChannelBGU(c).double()
    x = torch.randn(2, c, 3, 5, dtype=torch.float64)
    w1, w2 = m.fc1.weight[:20], m.fc1.weight[20:]
    b1, b2 = m.fc1.bias[:20], m.fc1.bias[20:]
    x1 = F.conv2d(x, w1, b1)
    x2 = F.gelu(F.conv2d(x, w2, b2))
    expected = F.conv2d(x1 * x2, m.fc2.weight, m.fc2.bias)
    assert torch.allclose(m(x), expected, atol=1e-12)
    # 3 * 2.5 C^2 weights (Eq. 3: the parameters of a 4x FFN, 2 * 4 C^2,
    # up to rounding).
    assert m.hidden == 20
    weights = m.fc1.weight.numel() + m.fc2.weight.numel()
    assert weights == int(3 * 2.5 * c * c)


def test_channel_bgu_ungated_is_parameter_matched_ffn():
    gated, plain = ChannelBGU(16), ChannelBGU(16, gated=False)
    assert plain.hidden == 60  # 1.5 * 2.5 * 16
    assert plain.fc1.weight.numel() + plain.fc2.weight.numel() == \
        gated.fc1.weight.numel() + gated.fc2.weight.numel()
    x = torch.randn(1, 16, 4, 4)
    expected = plain.fc2(F.gelu(plain.fc1(x)))
    assert torch.allclose(plain(x), expected)
    with pytest.raises(ValueError, match='expansion'):
        ChannelBGU(16, expansion=0)
    with pytest.raises(ValueError, match='dw_kernel_size'):
        ChannelBGU(16, dw_kernel_size=2)


def test_channel_bgu_depthwise_option():
    m = ChannelBGU(8, dw_kernel_size=3)
    x = torch.randn(1, 8, 5, 6)
    h = m.dwconv(m.fc1(x))
    expected = m.fc2(h[:, :20] * F.gelu(h[:, 20:]))
    assert torch.allclose(m(x), expected, atol=1e-6)
    assert m.dwconv.weight.shape == (40, 1, 3, 3)


def test_spatial_bgu_formula_and_ungated_chain():
    torch.manual_seed(0)
    c = 8
    parc = ParCBranch(c, 0.5, 6)
    m = SpatialBGU(c, parc)
    x = torch.randn(2, c, 6, 6)
    expected = m.pwconv2(parc(x) * F.gelu(m.pwconv1(x)))
    assert torch.allclose(m(x), expected)
    plain = SpatialBGU(c, parc, gated=False)
    plain.load_state_dict(m.state_dict())
    assert n_params(plain) == n_params(m)
    assert torch.allclose(plain(x),
                          m.pwconv2(F.gelu(parc(m.pwconv1(x)))))


def test_parc_branch_shapes_and_gradients():
    parc = ParCBranch(12, 0.75, (7, 7))
    x = torch.randn(2, 12, 9, 5, requires_grad=True)
    out = parc(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert parc.conv.global_conv.weight_h.grad is not None
    assert isinstance(parc.pwconv, nn.Conv2d)
    assert parc.conv.global_channels == 9


def test_released_mixer_formula():
    torch.manual_seed(0)
    m = ReleasedParCMixer(6, 5).double()
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64)
    h = m.pwconv1(x)
    x1, x2 = h[:, :6], F.gelu(h[:, 6:])
    mixed = m.global_conv(x2) + F.conv2d(x2, m.local_conv.weight,
                                         padding=3, groups=6)
    assert torch.allclose(m(x), m.pwconv2(x1 * mixed), atol=1e-12)
    assert m.pwconv2.bias is None and m.local_conv.bias is None
    assert m.global_conv.bias_h is None
    with pytest.raises(ValueError, match='local_kernel_size'):
        ReleasedParCMixer(6, 5, local_kernel_size=6)
