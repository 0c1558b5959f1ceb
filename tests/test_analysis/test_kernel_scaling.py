"""lkmm.analysis.kernel_scaling: parameters against kernel size per
large-kernel form (PeLK Fig. 6), counted on the real models.

Only parameter counting, no forward pass: tiny widths keep even the
151x151 dense models small.
"""
import os.path as osp

import pytest
from mmengine.config import Config

from lkmm.analysis.kernel_scaling import (
    SCALING_FORMS,
    count_scaling_params,
    format_kernel_scaling_table,
    kernel_scaling,
    pelk_centre_size,
    scaling_arch,
)
from lkmm.engine.runner import build_model_from_cfg
from lkmm.models import LargeKernelConvNeXt

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEPTHS, WIDTHS = [1, 2, 1, 1], [4, 8, 8, 12]
TINY_ARCH = dict(depths=DEPTHS, channels=WIDTHS, kernel_sizes=[7] * 4,
                 form='dense')


def _classifier_cfg(arch):
    return Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='lkmm.LargeKernelConvNeXt', arch=arch),
            head=dict(type='LinearClsHead', num_classes=10,
                      in_channels=WIDTHS[-1]))))


@pytest.fixture(scope='module')
def tiny_cfg():
    return _classifier_cfg(TINY_ARCH)


def _numel(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('kernel_size', [7, 31])
def test_counts_are_the_real_models(tiny_cfg, kernel_size):
    """Each row counts the classifier built with that form and K, written
    out by hand here (not through scaling_arch)."""
    rows = kernel_scaling(tiny_cfg, [kernel_size], SCALING_FORMS)
    by_form = {r.form: r for r in rows}
    common = dict(depths=DEPTHS, channels=WIDTHS,
                  kernel_sizes=[kernel_size] * 4)
    expected = {
        'dense': dict(common, form='dense'),
        'stripe': dict(common, form='stripe'),
        'peripheral': dict(common, form='peripheral', centre_size=5),
        'peripheral+pe': dict(common, form='peripheral', centre_size=5,
                              pos_embed=True),
    }
    for form, arch in expected.items():
        model = build_model_from_cfg(_classifier_cfg(arch))
        assert by_form[form].params == _numel(model), form
        assert by_form[form].kernel_size == kernel_size
    if kernel_size == 31:
        # The forms really differ: dense > stripe > peripheral.
        params = [by_form[f].params for f in ('dense', 'stripe',
                                              'peripheral')]
        assert params == sorted(params, reverse=True)
        assert len(set(params)) == 3
        assert by_form['peripheral'].sharing_grid == [7, 4, 2, 1, 1, 1]
    else:
        # At K=7 the 5x5-centre grid is all ones: peripheral == dense.
        assert by_form['peripheral'].params == by_form['dense'].params
        assert by_form['peripheral'].sharing_grid == [1, 1, 1, 1]


def test_dense_grows_exactly_as_k_squared(tiny_cfg):
    small, large = 31, 51
    rows = {r.kernel_size: r for r in kernel_scaling(
        tiny_cfg, [small, large], ['dense'])}
    per_layer = sum(d * c for d, c in zip(DEPTHS, WIDTHS))
    grown = per_layer * (large ** 2 - small ** 2)
    assert rows[large].params - rows[small].params == grown
    assert rows[large].large_kernel_params - \
        rows[small].large_kernel_params == grown
    assert rows[large].large_kernel_params == per_layer * large ** 2
    assert [rows[k].kernel_params_per_channel for k in (small, large)] == \
        [small ** 2, large ** 2]


def test_stripe_grows_linearly(tiny_cfg):
    rows = kernel_scaling(tiny_cfg, [31, 51], ['stripe'])
    assert [r.kernel_params_per_channel for r in rows] == [2 * 5 * 31,
                                                          2 * 5 * 51]


def test_peripheral_grows_logarithmically(tiny_cfg):
    """PeLK's claim, measured: from K=51 to 151 the dense kernel grows
    8.8x, the peripheral one 2.1x (13^2 -> 19^2, the centre widening from
    5x5 to 9x9 included); with a fixed 5x5 centre 1.3x (13^2 -> 15^2)."""
    kernels = [51, 101, 151]
    rows = {(r.form, r.kernel_size): r for r in kernel_scaling(
        tiny_cfg, kernels, ['dense', 'peripheral'])}
    peripheral = [rows['peripheral', k].kernel_params_per_channel
                  for k in kernels]
    assert peripheral == [13 ** 2, 17 ** 2, 19 ** 2]
    assert [rows['peripheral', k].centre_size for k in kernels] == [5, 7, 9]
    assert [rows['dense', k].kernel_params_per_channel for k in kernels] == \
        [k * k for k in kernels]
    assert peripheral[-1] / peripheral[0] < 2.2
    fixed = kernel_scaling(tiny_cfg, [51, 151], ['peripheral'],
                           centre_size=5)
    assert [r.kernel_params_per_channel for r in fixed] == [13 ** 2,
                                                           15 ** 2]
    # Whole models: the 151 dense one is many times the peripheral one.
    assert rows['dense', 151].params > 5 * rows['peripheral', 151].params


def test_positional_embedding_grows_as_k_squared(tiny_cfg):
    rows = {r.form: r for r in kernel_scaling(
        tiny_cfg, [21], ['peripheral', 'peripheral+pe'])}
    assert rows['peripheral+pe'].pos_embed_params == sum(WIDTHS) * 21 ** 2
    assert rows['peripheral+pe'].params - rows['peripheral'].params == \
        sum(WIDTHS) * 21 ** 2
    assert rows['peripheral'].pos_embed_params == 0


def test_centre_rule_matches_lkmm_pelk_configs():
    """5x5 at 51 (PeLK), 7x7 at 101 (PeLK-101), 9x9 at 151 (lkmm's
    PeLK-151 config)."""
    assert LargeKernelConvNeXt.arch_zoo['pelk-b-101']['centre_size'] == \
        pelk_centre_size(101) == 7
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'pelk',
        'pelk-151-t_no-sparsity_32xb128-120e_in1k.py'))
    assert cfg.model.backbone.arch.centre_size == pelk_centre_size(151) == 9
    assert [pelk_centre_size(k) for k in (3, 7, 51, 99, 149, 199, 201)] == \
        [3, 5, 5, 5, 7, 9, 11]


def test_scaling_arch_keeps_the_base():
    base = LargeKernelConvNeXt.parse_arch('pelk-t')
    arch = scaling_arch(base, 'stripe', 21)
    assert arch['kernel_sizes'] == [21] * 4 and arch['form'] == 'stripe'
    assert not arch['pos_embed'] and arch['channels'] == base['channels']
    assert arch['partial_ratio'] == base['partial_ratio']
    arch = scaling_arch(base, 'peripheral+pe', 9, centre_size=11)
    assert arch['form'] == 'peripheral' and arch['pos_embed']
    assert arch['centre_size'] == 9  # never wider than the kernel
    LargeKernelConvNeXt.parse_arch(arch)  # a valid arch
    assert base['kernel_sizes'] == [51, 49, 47, 13]  # not modified


def test_count_scaling_params_on_a_backbone():
    model = LargeKernelConvNeXt(arch=dict(TINY_ARCH, form='stripe',
                                          kernel_sizes=[9] * 4))
    counts = count_scaling_params(model)
    assert counts['params'] == _numel(model)
    assert counts['kernel_params_per_channel'] == 2 * 5 * 9
    assert counts['large_kernel_params'] == \
        sum(d * c for d, c in zip(DEPTHS, WIDTHS)) * 90


def test_table(tiny_cfg):
    rows = kernel_scaling(tiny_cfg, [7, 11], ['dense', 'peripheral'])
    table = format_kernel_scaling_table(rows)
    lines = table.splitlines()
    assert lines[0] == ('| K | dense params (M) | peripheral params (M) | '
                        'dense kernel params / channel | peripheral kernel '
                        'params / channel |')
    assert len(lines) == 4
    assert lines[3].startswith('| 11 |') and '81 (9^2, 5x5 centre)' in \
        lines[3]


def test_bad_arguments(tiny_cfg):
    with pytest.raises(ValueError, match='forms must be names'):
        kernel_scaling(tiny_cfg, [7], ['sparse'])
    with pytest.raises(ValueError, match='odd ints >= 3'):
        kernel_scaling(tiny_cfg, [8], ['dense'])
    with pytest.raises(ValueError, match='centre_size'):
        kernel_scaling(tiny_cfg, [7], ['peripheral'], centre_size=4)
    resnet = Config(dict(model=dict(type='ImageClassifier',
                                    backbone=dict(type='ResNet', depth=18))))
    with pytest.raises(ValueError, match="backbone type is 'ResNet'"):
        kernel_scaling(resnet, [7], ['dense'])
