"""ParCNetV2's oversized convolution (Sec. 3.1, Eqs. 1-2)."""
import pytest
import torch
import torch.nn.functional as F

from lkmm.layers import (
    LocalGlobalConv,
    OversizedConv2d,
    resize_oversized_kernel,
)
from lkmm.ops import oversized_conv1d


def explicit_oversized(x, kh, kw):
    """Eqs. 1-2 written out: sums over every offset with X = 0 outside."""
    n, c, h, w = x.shape
    rh, rw = kh.shape[1] // 2, kw.shape[1] // 2
    y = torch.zeros_like(x)
    for i in range(h):
        for s in range(-rh, rh + 1):
            if 0 <= i + s < h:
                y[:, :, i] += kh[:, s + rh].view(1, c, 1) * x[:, :, i + s]
    z = torch.zeros_like(x)
    for j in range(w):
        for t in range(-rw, rw + 1):
            if 0 <= j + t < w:
                z[..., j] += kw[:, t + rw].view(1, c, 1) * y[..., j + t]
    return z


@pytest.mark.parametrize('impl', ['torch', 'spatial', 'fft'])
@pytest.mark.parametrize('size', [(5, 5), (6, 4), (1, 3)])
def test_equals_explicit_zero_padded_1d_conv(impl, size):
    torch.manual_seed(0)
    h, w = size
    conv = OversizedConv2d(3, (h, w), impl=impl).double()
    x = torch.randn(2, 3, h, w, dtype=torch.float64)
    kh, kw = conv.kernels_for(h, w)
    assert kh.shape == (3, 2 * h - 1) and kw.shape == (3, 2 * w - 1)
    expected = explicit_oversized(x, kh, kw)
    assert torch.allclose(conv(x), expected, atol=1e-12)


def test_every_output_sees_whole_map_and_is_position_aware():
    torch.manual_seed(0)
    conv = OversizedConv2d(1, 6)
    x = torch.zeros(1, 1, 6, 6, requires_grad=True)
    conv(x)[0, 0, 0, 0].backward()
    # A corner output depends on every input pixel.
    assert (x.grad != 0).all()
    # Zero padding: the same input seen from different positions gets
    # different weights (no shift invariance).
    with torch.no_grad():
        one = torch.zeros(1, 1, 6, 6)
        one[..., 0, 0] = 1
        shifted = torch.roll(one, (1, 1), (-2, -1))
        a, b = conv(one), conv(shifted)
    assert not torch.allclose(torch.roll(a, (1, 1), (-2, -1)), b)


def test_resize_keeps_centre_and_ends():
    w = torch.arange(7.).view(1, 1, 7, 1)
    r = resize_oversized_kernel(w, 13, -2).flatten()
    assert r[0] == 0 and r[6] == 3 and r[-1] == 6  # ends and centre kept
    assert torch.allclose(r[1], torch.tensor(.5))  # linear in between
    assert resize_oversized_kernel(w, 7, -2) is w
    # One-pixel maps meet only the centre tap.
    assert resize_oversized_kernel(w, 1, -2).item() == 3
    with pytest.raises(ValueError, match='positive odd'):
        resize_oversized_kernel(w, 8, -2)


@pytest.mark.parametrize('size', [(7, 7), (9, 5), (13, 22), (1, 1)])
def test_interpolation_keeps_output_shape(size):
    conv = OversizedConv2d(4, (14, 14))
    x = torch.randn(2, 4, *size, requires_grad=True)
    out = conv(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert conv.weight_h.grad.shape == (4, 1, 27, 1)
    assert conv.weight_w.grad.shape == (4, 1, 1, 27)


@pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')
def test_traced_graph_has_convolutions():
    conv = OversizedConv2d(2, 20).eval()
    graph = torch.jit.trace(conv, torch.randn(1, 2, 20, 20)).graph
    assert sum('aten::_convolution' in str(n) for n in graph.nodes()) == 2


@pytest.mark.parametrize('ratio', [0., 0.25, 1.])
def test_local_global_split(ratio):
    torch.manual_seed(0)
    m = LocalGlobalConv(8, ratio, 6, local_kernel_size=3).double()
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    out = m(x)
    assert out.shape == x.shape
    g = int(round(ratio * 8))
    assert m.global_channels == g and m.local_channels == 8 - g
    dw = F.conv2d(x, m.dw_weight, m.dw_bias, padding=1, groups=8)
    if g < 8:
        local = F.conv2d(F.conv2d(dw[:, :8 - g], m.local_h, padding=(1, 0),
                                  groups=8 - g),
                         m.local_w, padding=(0, 1), groups=8 - g)
        assert torch.allclose(out[:, :8 - g], local, atol=1e-12)
    if g:
        assert torch.allclose(out[:, 8 - g:], m.global_conv(dw[:, 8 - g:]),
                              atol=1e-12)


def test_local_global_without_oversized():
    m = LocalGlobalConv(8, 0.5, 6, oversized=False)
    assert m.global_conv is None and m.local_h.shape[0] == 8
    assert m(torch.randn(1, 8, 6, 6)).shape == (1, 8, 6, 6)
    dw_only = LocalGlobalConv(8, 0.5, 6, local_global=False)
    assert dw_only.local_h is None and dw_only.global_conv is None
    x = torch.randn(1, 8, 6, 6)
    assert torch.allclose(dw_only(x), F.conv2d(
        x, dw_only.dw_weight, dw_only.dw_bias, padding=1, groups=8))
    biased = LocalGlobalConv(8, 0.5, 6, oversized_bias=True)
    assert biased.global_conv.bias_h.shape == (4, )
    with pytest.raises(ValueError, match='global_ratio'):
        LocalGlobalConv(8, 1.5, 6)
    with pytest.raises(ValueError, match='local_kernel_size'):
        LocalGlobalConv(8, 0.5, 6, local_kernel_size=4)


@pytest.mark.parametrize('impl', ['fft', 'torch'])
def test_gradcheck_through_kernel_resize(impl):
    torch.manual_seed(0)
    conv = OversizedConv2d(2, (4, 3), impl=impl).double()
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)

    # Resizing is linear in the base kernel: gradients reach it exactly.
    out = conv(x)
    out.backward(torch.ones_like(out))
    assert conv.weight_h.grad.shape == (2, 1, 7, 1)
    assert torch.autograd.gradcheck(conv, (x, ))
    assert torch.autograd.gradcheck(
        lambda wh: oversized_conv1d(
            x.detach(), resize_oversized_kernel(wh, 11, -2).flatten(1), -2,
            impl),
        (conv.weight_h.detach().clone().requires_grad_(), ))


def test_bad_impl_names_the_choices():
    with pytest.raises(ValueError, match=r"impl must be one of \('auto', "
                       r"'torch', 'spatial', 'fft'\), got 'cuda'"):
        OversizedConv2d(2, 4, impl='cuda')
