"""Per-layer-type time breakdown (lkmm/analysis/breakdown.py): modules and
operators are charged to the right category, a labelled layer's own
operators (FFTs) count as that layer, and backward work follows the
forward operator that made it."""
import pytest
import torch
import torch.nn as nn

from lkmm.analysis.breakdown import (
    ACTIVATION,
    CATEGORIES,
    DENSE_CONV,
    DW_LARGE,
    DW_SMALL,
    NORM,
    POINTWISE,
    REST,
    format_breakdowns,
    model_breakdown,
    module_category,
    op_category,
)
from lkmm.layers import (
    L2LayerNorm2d,
    LayerNorm2d,
    OversizedConv2d,
    PeripheralConv2d,
    ReparamLargeKernelConv,
)


class FFTConv(nn.Module):
    """A depth-wise conv computed by FFTs: no operator says what it is."""
    breakdown_category = DW_LARGE

    def __init__(self, channels=8, size=32):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, size, size // 2 + 1,
                                               dtype=torch.cfloat))

    def forward(self, x):
        spectrum = torch.fft.rfft2(x) * self.weight
        return torch.fft.irfft2(spectrum, s=x.shape[-2:])


class Unlabelled(FFTConv):
    breakdown_category = None


def test_module_categories():
    assert module_category(nn.Conv2d(8, 8, 31, groups=8)) == DW_LARGE
    assert module_category(nn.Conv2d(8, 8, 5, groups=8)) == DW_SMALL
    assert module_category(nn.Conv2d(8, 8, 7, groups=8)) == DW_SMALL
    assert module_category(nn.Conv2d(8, 16, 1)) == POINTWISE
    assert module_category(nn.Conv2d(8, 16, 3)) == DENSE_CONV
    assert module_category(nn.Conv2d(8, 16, 3, groups=2)) == DENSE_CONV
    assert module_category(nn.Linear(8, 4)) == POINTWISE
    for norm in (nn.BatchNorm2d(8), nn.LayerNorm(8), nn.GroupNorm(2, 8),
                 LayerNorm2d(8), L2LayerNorm2d(8)):
        assert module_category(norm) == NORM, norm
    for act in (nn.GELU(), nn.ReLU(), nn.SiLU(), nn.Sigmoid()):
        assert module_category(act) == ACTIVATION, act
    assert module_category(nn.Sequential()) is None
    assert module_category(FFTConv()) == DW_LARGE
    # lkmm's large-kernel layers by the kernel they apply.
    assert module_category(ReparamLargeKernelConv(8, 31, 5)) == DW_LARGE
    assert module_category(ReparamLargeKernelConv(8, 7, 3)) == DW_SMALL
    assert module_category(OversizedConv2d(8, 14)) == DW_LARGE
    assert module_category(PeripheralConv2d(8, 51)) == DW_LARGE


def test_operator_categories():
    assert op_category('aten::gelu', []) == ACTIVATION
    assert op_category('aten::native_layer_norm', []) == NORM
    assert op_category('aten::addmm', []) == POINTWISE
    x, dw, pw = [2, 8, 16, 16], [8, 1, 31, 31], [16, 8, 1, 1]
    assert op_category('aten::conv2d', [x, dw, [8]]) == DW_LARGE
    assert op_category('aten::conv2d', [x, pw, [16]]) == POINTWISE
    assert op_category('aten::convolution_backward',
                       [[2, 8, 16, 16], x, [8, 1, 5, 5], []]) == DW_SMALL
    assert op_category('aten::add', [x, x]) is None
    assert op_category('lkmm.breakdown::norm', []) == NORM


def _shares(model, mode):
    torch.manual_seed(0)
    result = model_breakdown(model, torch.randn(2, 8, 32, 32), mode,
                             steps=2, warmup=1)
    assert set(result.ms) == set(CATEGORIES) and result.total_ms > 0
    return {c: result.share(c) for c in CATEGORIES}


@pytest.mark.parametrize('mode', ['deploy', 'train'])
def test_a_labelled_layer_owns_its_operators_and_their_backward(mode):
    shares = _shares(FFTConv(), mode)
    # Its FFTs (forward, and in training their backward) are the layer's.
    assert shares[DW_LARGE] > 0.9, shares  # measured 0.99-1.0
    assert shares[REST] < 0.05, shares
    # Without the label the same operators say nothing about themselves.
    shares = _shares(Unlabelled(), mode)
    assert shares[REST] > 0.9, shares


def test_training_charges_convolution_backward_to_its_kind():
    model = nn.Sequential(nn.Conv2d(8, 256, 1), nn.Conv2d(256, 8, 1),
                          nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3, padding=1,
                                                       groups=8))
    deploy, train = _shares(model, 'deploy'), _shares(model, 'train')
    # The two wide pointwise convs dominate both directions (measured
    # 0.67-0.68 and 0.63-0.99).
    assert deploy[POINTWISE] > 0.55 and train[POINTWISE] > 0.55
    # Backward of the convolutions is not left to "rest" (measured 0.00).
    assert train[REST] < 0.05, train


def test_table_lists_every_category():
    model = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU())
    result = model_breakdown(model, torch.randn(1, 8, 8, 8), steps=1)
    table = format_breakdowns([result])
    for category in CATEGORIES + ('total', ):
        assert category in table
    with pytest.raises(ValueError, match="mode must be 'deploy' or"):
        model_breakdown(model, torch.randn(1, 8, 8, 8), mode='eval')
    with pytest.raises(ValueError, match='steps must be >= 1'):
        model_breakdown(model, torch.randn(1, 8, 8, 8), steps=0)
