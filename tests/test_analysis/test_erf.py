"""Effective receptive field (lkmm/analysis/erf.py): the tool measures what
it claims, on fixed seeds."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from lkmm.analysis.erf import (
    backbone_feature_fn,
    erf_area_ratios,
    erf_contribution,
    scale_contribution,
)
from lkmm.models import LargeKernelConvNeXt, RepLKNet


def _images(count, size, seed=0, positive=False):
    gen = torch.Generator().manual_seed(seed)
    images = [torch.randn(1, 3, size, size, generator=gen)
              for _ in range(count)]
    return [x.abs() for x in images] if positive else images


def test_a_known_window_gives_exactly_that_window():
    """A 9x9 all-positive conv: the centre output sees exactly the 9x9
    window around it, each pixel equally."""
    conv = nn.Conv2d(3, 4, 9, padding=4, bias=False)
    nn.init.constant_(conv.weight, 0.01)
    matrix = erf_contribution(lambda x: conv(x), _images(2, 64, positive=True))
    nonzero = np.argwhere(matrix > 0)
    assert nonzero.min(0).tolist() == [28, 28]
    assert nonzero.max(0).tolist() == [36, 36]
    inside = matrix[28:37, 28:37]
    assert np.allclose(inside, inside[0, 0])
    rows = erf_area_ratios(matrix, (0.5, 0.99, 1.0))
    # Uniform over the window: 5x5 holds 25/81 < 0.5, 7x7 49/81 >= 0.5;
    # only the whole 9x9 window holds 0.99 and all of it.
    assert [r['side'] for r in rows] == [7, 9, 9]
    assert rows[1]['area_ratio'] == pytest.approx(81 / 64**2)


def test_scaling_and_smallest_square():
    matrix = np.zeros((11, 11))
    matrix[5, 5] = 9.  # log10(10) = 1 after scaling: the centre alone
    matrix[5, 0] = 9.  # and one pixel at the edge, as heavy
    scaled = scale_contribution(matrix)
    assert scaled.max() == 1 and scaled[5, 5] == 1
    rows = erf_area_ratios(matrix, (0.5, 0.51))
    assert [r['side'] for r in rows] == [1, 11]
    with pytest.raises(ValueError, match=r'thresholds must be in \(0, 1\]'):
        erf_area_ratios(matrix, (0, ))


def _ratio99(model, size=128, count=2):
    torch.manual_seed(0)
    model.init_weights()
    model.eval()
    matrix = erf_contribution(backbone_feature_fn(model),
                              _images(count, size))
    return erf_area_ratios(matrix, (0.99, ))[0]['area_ratio']


def test_larger_kernels_see_farther_at_initialization():
    """RepLKNet Fig. 1 at initialization: 31x31 kernels give a larger 99%
    area than 3x3 ones, all else equal (stage 2 at 128 px, measured 0.954
    vs 0.258)."""
    base = dict(channels=[8, 8, 8, 8], layers=[1, 1, 1, 1])
    torch.manual_seed(0)
    large = RepLKNet(arch=dict(base, kernel_sizes=[31, 31, 31, 13],
                               small_kernel=5), out_indices=(2, ))
    torch.manual_seed(0)
    small = RepLKNet(arch=dict(base, kernel_sizes=[3, 3, 3, 3],
                               small_kernel=None), out_indices=(2, ))
    r_large, r_small = _ratio99(large), _ratio99(small)
    assert r_large > 3 * r_small, (r_large, r_small)


def test_pooled_classifier_backbones_give_their_map():
    model = LargeKernelConvNeXt(arch=dict(
        depths=[1, 1, 1, 1], channels=[8, 8, 8, 8],
        kernel_sizes=[7, 7, 7, 7], form='dense'))
    assert model.gap_before_final_norm
    out = backbone_feature_fn(model)(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 8, 2, 2)
