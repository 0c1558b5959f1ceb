"""lkmm.analysis.complexity: counting sparse models (SLaK / PeLK way)."""
import pytest
import torch
import torch.nn as nn

import lkmm  # noqa: F401
from lkmm.analysis import inference_complexity, sparse_complexity
from lkmm.engine import SparseMasks
from lkmm.layers.peripheral_conv import PeripheralConv2d


class ConvLinear(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)
        with torch.no_grad():  # no zero entries before a test makes some
            for param in self.parameters():
                param.uniform_(0.5, 1.0)

    def forward(self, x):
        x = self.norm(self.conv(x)).mean((2, 3))
        return self.fc(x)


SHAPE = (3, 16, 16)
CONV_FLOPS = 8 * 3 * 9 * 16 * 16  # multiply-adds of the 3x3 conv
FC_FLOPS = 8 * 10


def test_dense_model_counts_as_dense():
    model = ConvLinear()
    result = sparse_complexity(model, SHAPE)
    assert result['sparse_flops'] == result['flops']
    assert result['nonzero_params'] == result['params']
    assert result['module_density'] == {}
    assert result['flops'] == inference_complexity(model, SHAPE)['flops']


def test_zeroed_weights_remove_their_multiply_adds():
    model = ConvLinear()
    with torch.no_grad():
        model.conv.weight.view(-1)[:54] = 0  # a quarter of 216 taps
        model.fc.weight[:5] = 0  # half of the linear
    result = sparse_complexity(model, SHAPE)
    assert result['module_density'] == {'conv': 0.75, 'fc': 0.5}
    removed = 0.25 * CONV_FLOPS + 0.5 * FC_FLOPS
    assert result['sparse_flops'] == pytest.approx(result['flops'] - removed)
    assert result['nonzero_params'] == result['params'] - 54 - 40
    # The model handed in is not changed (counted on a copy, in eval).
    assert model.training and int((model.conv.weight == 0).sum()) == 54


def test_peripheral_conv_counts_the_materialized_taps():
    """A zeroed shared parameter removes a whole cell of the K x K kernel."""
    torch.manual_seed(0)
    conv = PeripheralConv2d(4, 15, centre_size=3)
    assert conv.sharing_grid == (4, 2, 1, 1, 1, 2, 4)
    with torch.no_grad():
        conv.weight[:, :, 0, 0] = 0  # the outer corner cell, every channel
    kernel = conv.get_kernel()
    density = 1 - 4 * 4 / 15**2
    assert float((kernel != 0).float().mean()) == pytest.approx(density)
    result = sparse_complexity(conv, (4, 20, 20))
    assert result['module_density'][''] == pytest.approx(density)
    assert result['sparse_flops'] == pytest.approx(density * result['flops'])
    # The shared tensor's density (48/49) would undercount the cell's taps.
    shared = float((conv.weight != 0).float().mean())
    assert shared == pytest.approx(48 / 49) and shared > density


def test_parent_modules_scale_only_their_own_kernel():
    """A module holding a weight and children: the children's FLOPs are
    scaled by their own kernels, not the parent's."""

    class Parent(nn.Module):

        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(8, 8))
            self.child = nn.Linear(8, 8, bias=False)

        def forward(self, x):
            return self.child(x @ self.weight)

    model = Parent()
    with torch.no_grad():
        model.weight[:4] = 0
    result = sparse_complexity(model, (2, 8))
    assert result['module_density'] == {'': 0.5}
    assert result['flops'] == 2 * 2 * 64
    assert result['sparse_flops'] == pytest.approx(2 * 64 * 1.5)


def test_masks_give_their_density_on_a_large_kernel_convnext():
    from mmengine.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='lkmm.LargeKernelConvNeXt',
        arch=dict(depths=[1, 1], channels=[8, 16], kernel_sizes=[7, 5],
                  form='stripe', small_kernel=3),
        out_indices=(1, )))
    dense = sparse_complexity(model, (3, 32, 32))
    masks = SparseMasks(model, 0.5)
    masks.init('uniform', generator=torch.Generator().manual_seed(0))
    sparse = sparse_complexity(model, (3, 32, 32))
    assert sparse['flops'] == dense['flops']
    # Every conv / linear at half density; norms (dense) are a few percent.
    ratio = sparse['sparse_flops'] / dense['flops']
    assert 0.5 < ratio < 0.55
    assert set(sparse['module_density'].values()) == {0.5}


def test_bad_detector_forward():
    with pytest.raises(ValueError, match='detector_forward'):
        sparse_complexity(ConvLinear(), SHAPE, detector_forward='x')


class StridedWithFixedHead(nn.Module):
    """Area-proportional layers (two convs, stride 2) plus a fixed-size part
    (pooled to 3x3, then a linear layer): FLOPs = a * H * W + b."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(3)
        self.fc = nn.Linear(54, 5, bias=False)

    def forward(self, x):
        return self.fc(self.pool(self.conv2(self.conv1(x))).flatten(1))


def test_extrapolated_flops_equal_the_direct_count():
    from lkmm.analysis import extrapolated_flops
    model = StridedWithFixedHead()
    shape = (3, 32, 96)
    result = extrapolated_flops(model, shape, stride=2)
    # Probes: the smallest multiples of the stride in the ratio 1:3, and
    # twice that.
    assert list(result['probes']) == [(2, 6), (4, 12)]
    direct = inference_complexity(model, shape)['flops']
    # By hand: conv1 16x48 outputs x 4 x 27, conv2 16x48 x 6 x 36, the pool
    # 16x48x6 reads, the linear 54 x 5.
    assert direct == 16 * 48 * (4 * 27 + 6 * 36 + 6) + 54 * 5
    assert result['flops'] == direct
    with pytest.raises(ValueError, match='multiples of stride 32'):
        extrapolated_flops(model, (3, 40, 96))
    with pytest.raises(ValueError, match='too small to extrapolate'):
        extrapolated_flops(model, (3, 32, 96), stride=32)
