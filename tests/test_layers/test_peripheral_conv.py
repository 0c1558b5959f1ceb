"""PeLK's peripheral convolution: sharing grids (Eq. 2, the printed grids and
the ablation grids), the materialized kernel and its gradients (Eq. 1), the
kernel-wise positional embedding (Eq. 3, borders included) and deployment."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lkmm.layers import (
    DepthwiseConv2d,
    KernelPositionalEmbedding,
    PeripheralConv2d,
    ReparamPeripheralConv,
    half_sharing_grid,
    kernel_pos_embed_bias,
    make_sharing_grid,
    materialize_shared_kernel,
    parse_sharing_grid,
    sharing_grid_index,
)
from lkmm.ops import depthwise_conv_impl

# (K, centre, half grid outer -> centre) as printed in the paper.
PRINTED = [
    (51, 5, [9, 8, 4, 2, 1, 1, 1]),  # Table 6, PeLK default
    (51, 7, [8, 8, 4, 2, 1, 1, 1, 1]),  # Table 6, PeLK-101's centre
    (51, 3, [10, 8, 4, 2, 1, 1]),  # Table 6
    (51, 1, [11, 8, 4, 2, 1]),  # Table 6
    (31, 5, [7, 4, 2, 1, 1, 1]),  # Fig. 1b, from 11x11
    (33, 5, [8, 4, 2, 1, 1, 1]),  # Table 5 #5
    (5, 1, [2, 1]),  # Fig. 1a: [2, 1, 2]
]
# Every kernel of PeLK (51-49-47-13), PeLK-101 (101-69-67-13), PeLK-151
# (151-89-87-13, Table 7) and the ablations (33: Table 5, 31: Fig. 1b).
KERNELS = [51, 49, 47, 13, 101, 69, 67, 151, 89, 87, 33, 31]
# Table 5 (K=33), half grids with their "Param" column (k'^2 / 33^2). Row 3
# is printed with eight 2s, which covers 37 positions; its 0.33x shows the
# grid has seven (19^2 / 33^2 = 0.33, eight would give 0.40).
TABLE5 = [
    ([1] * 17, 1.00),
    ([2] * 8 + [1], 0.27),
    ([2] * 7 + [1, 1, 1], 0.33),
    ([4, 4, 4, 2, 1, 1, 1], 0.16),
    ([8, 4, 2, 1, 1, 1], 0.11),
    ([1, 1, 2, 4, 8, 1], 0.11),
]



def eq3_by_unfold(x, kernel, pos_embed):
    """Eq. 3 term by term: every tap of the zero-padded input gets h added
    before the weighted sum."""
    n, c, h, w = x.shape
    k = kernel.shape[-1]
    cols = F.unfold(x, k, padding=k // 2).view(n, c, k * k, h * w)
    cols = cols + pos_embed.reshape(1, c, k * k, 1)
    out = (cols * kernel.reshape(1, c, k * k, 1)).sum(2)
    return out.view(n, c, h, w)


# ----------------------------------------------------------------- grids


@pytest.mark.parametrize('kernel,centre,half', PRINTED)
def test_grid_reproduces_the_printed_grids(kernel, centre, half):
    grid = make_sharing_grid(kernel, centre)
    assert half_sharing_grid(grid) == half
    assert grid == half + half[-2::-1]


@pytest.mark.parametrize('centre', [1, 3, 5, 7])
@pytest.mark.parametrize('kernel', KERNELS)
def test_grid_is_valid_for_every_kernel_used(kernel, centre):
    grid = make_sharing_grid(kernel, centre)
    assert sum(grid) == kernel and grid == grid[::-1]
    assert len(grid) % 2 == 1 and all(s >= 1 for s in grid)
    side = grid[len(grid) // 2 + 1:]  # centre -> outside
    r_c = centre // 2
    assert side[:r_c] == [1] * r_c  # fine-grained centre
    # Exponential cells m^(|i| - r_c), m = 2, up to the outermost cell,
    # which takes the remainder and is at least half its inner neighbour.
    assert side[r_c:-1] == [2 ** n for n in range(1, len(side) - r_c)]
    if len(side) > 1:
        assert 2 * side[-1] >= side[-2]
    assert len(grid) < kernel  # fewer parameters than dense


def test_grid_of_pelk_101_and_the_13x13_stage():
    # Not printed; what the rule gives (for the report / configs).
    assert half_sharing_grid(make_sharing_grid(101, 7)) == \
        [17, 16, 8, 4, 2, 1, 1, 1, 1]
    # 69 = 7 + 2 * (2 + 4 + 8 + 16) + 2: the 1 left per side merges.
    assert half_sharing_grid(make_sharing_grid(69, 7)) == \
        [17, 8, 4, 2, 1, 1, 1, 1]
    assert half_sharing_grid(make_sharing_grid(67, 7)) == \
        [16, 8, 4, 2, 1, 1, 1, 1]
    assert half_sharing_grid(make_sharing_grid(13, 5)) == [2, 2, 1, 1, 1]
    assert half_sharing_grid(make_sharing_grid(13, 7)) == \
        [1, 2, 1, 1, 1, 1]


def test_grid_base_one_is_dense_and_centre_as_large_as_kernel():
    assert make_sharing_grid(33, 5, base=1) == [1] * 33
    assert make_sharing_grid(7, 7) == [1] * 7


@pytest.mark.parametrize('half,param_ratio', TABLE5)
def test_table5_grids_as_overrides(half, param_ratio):
    full = parse_sharing_grid(half, 33)
    assert sum(full) == 33 and full == full[::-1]
    assert round(len(full) ** 2 / 33 ** 2, 2) == param_ratio
    assert parse_sharing_grid(full, 33) == full  # full form accepted too
    conv = ReparamPeripheralConv(2, 33, sharing_grid=half)
    assert conv.large_conv.conv.weight.shape[-1] == len(full)


def test_override_errors_name_the_problem():
    with pytest.raises(ValueError, match='37'):  # Table 5 #3 as printed
        parse_sharing_grid([2] * 8 + [1, 1, 1], 33)
    with pytest.raises(ValueError, match='30'):  # Fig. 1b as printed
        parse_sharing_grid([7, 4, 2, 1, 1, 1, 1, 2, 4, 7], 31)
    assert parse_sharing_grid([7, 4, 2, 1, 1, 1, 1, 1, 2, 4, 7], 31) == \
        make_sharing_grid(31)
    with pytest.raises(ValueError, match='symmetric'):
        parse_sharing_grid([2, 1, 1, 1], 5)
    for bad in ([], [0, 5, 0], [1.5, 2, 1.5], 'abc', None):
        with pytest.raises(ValueError, match='sharing_grid'):
            parse_sharing_grid(bad, 5)
    with pytest.raises(ValueError, match='centre_size'):
        make_sharing_grid(51, 4)
    with pytest.raises(ValueError, match='centre_size'):
        make_sharing_grid(5, 7)
    with pytest.raises(ValueError, match='kernel_size'):
        make_sharing_grid(50)
    with pytest.raises(ValueError, match='base'):
        make_sharing_grid(51, base=0)


# ------------------------------------------------- materialized kernel


def test_materialized_kernel_is_the_gather_and_grads_reach_the_cells():
    torch.manual_seed(0)
    grid = make_sharing_grid(31)
    index = sharing_grid_index(grid)
    assert index.tolist() == [a for a, s in enumerate(grid)
                              for _ in range(s)]
    theta = torch.randn(3, 1, len(grid), len(grid), dtype=torch.float64,
                        requires_grad=True)
    ref_theta = theta.detach().clone().requires_grad_()
    kernel = materialize_shared_kernel(theta, index)
    ref = ref_theta[:, :, index[:, None], index[None, :]]  # explicit gather
    assert kernel.shape == (3, 1, 31, 31) and torch.equal(kernel, ref)
    upstream = torch.randn_like(kernel)
    kernel.backward(upstream)
    ref.backward(upstream)
    assert torch.allclose(theta.grad, ref_theta.grad)
    # A cell's gradient is the sum over the positions it covers.
    a, b = 0, len(grid) // 2
    cell = upstream[1, 0][index == a][:, index == b].sum()
    assert torch.isclose(theta.grad[1, 0, a, b], cell)


@pytest.mark.parametrize('impl', ['fft', 'torch', 'auto'])
def test_conv_forward_and_grads_equal_explicit_gather(impl):
    torch.manual_seed(0)
    conv = PeripheralConv2d(3, 31, centre_size=5).double()
    index = sharing_grid_index(conv.sharing_grid)
    x = torch.randn(2, 3, 11, 8, dtype=torch.float64, requires_grad=True)
    theta = conv.weight.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    with depthwise_conv_impl(impl):
        out = conv(x)
    ref = F.conv2d(x_ref, theta[:, :, index[:, None], index[None, :]],
                   padding=15, groups=3)
    assert torch.allclose(out, ref, atol=1e-10)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    ref.backward(upstream)
    assert torch.allclose(conv.weight.grad, theta.grad, atol=1e-9)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-10)


def test_parameter_count_is_the_shared_kernel():
    conv = PeripheralConv2d(4, 51)
    assert conv.weight.shape == (4, 1, 13, 13)
    assert 'index' not in conv.state_dict()  # derived from the grid
    assert conv.get_kernel().shape == (4, 1, 51, 51)
    assert abs(conv.weight.std().item() - .02) < .01


# ---------------------------------------------- positional embedding


def test_kernel_positional_embedding_parameter():
    torch.manual_seed(0)
    embed = KernelPositionalEmbedding(16, 13)
    assert embed.weight.shape == (16, 13, 13)
    assert isinstance(embed.weight, nn.Parameter)
    assert abs(embed.weight.std().item() - .02) < .003
    with pytest.raises(ValueError, match='kernel_size'):
        KernelPositionalEmbedding(4, 12)


@pytest.mark.parametrize('kernel_size,shape', [
    (13, (2, 3, 9, 14)),  # borders: every pixel within 6 of an edge
    (13, (1, 3, 5, 3)),  # kernel larger than the map
    (31, (1, 3, 7, 10)),
])
def test_eq3_equals_unfold_evaluation_including_borders(kernel_size, shape):
    torch.manual_seed(0)
    conv = PeripheralConv2d(3, kernel_size).double()
    embed = KernelPositionalEmbedding(3, kernel_size).double()
    with torch.no_grad():  # make h matter against the conv term
        embed.weight.normal_()
    x = torch.randn(shape, dtype=torch.float64)
    out = conv(x, embed.weight)
    ref = eq3_by_unfold(x, conv.get_kernel(), embed.weight)
    assert torch.allclose(out, ref, atol=1e-10)
    # The term is one constant per channel, the same at the corners.
    term = out - conv(x)
    assert torch.allclose(term, term[:, :, :1, :1].expand_as(term))
    assert torch.allclose(
        term[0, :, 0, 0], kernel_pos_embed_bias(conv.get_kernel(),
                                                embed.weight))
    # A module is accepted in place of its tensor.
    assert torch.allclose(conv(x, embed), out)


def test_reparam_conv_adds_eq3_term_after_bn(randomize_bn):
    torch.manual_seed(0)
    layer = ReparamPeripheralConv(3, 13).double()
    randomize_bn(layer)
    layer.eval()
    h = torch.randn(3, 13, 13, dtype=torch.float64)
    x = torch.randn(2, 3, 6, 9, dtype=torch.float64)
    term = layer(x, h) - layer(x)
    expected = kernel_pos_embed_bias(layer.large_conv.conv.get_kernel(), h)
    assert torch.allclose(term, expected.view(1, 3, 1, 1).expand_as(term))


def test_pos_embed_is_trained_through_a_training_mode_bn():
    torch.manual_seed(0)
    layer = ReparamPeripheralConv(3, 13).train()
    embed = KernelPositionalEmbedding(3, 13)
    x = torch.randn(2, 3, 8, 8)
    layer(x, embed.weight).square().sum().backward()
    assert embed.weight.grad is not None and embed.weight.grad.abs().sum() > 0
    # Why the term goes after the BN: before it, the batch mean removes a
    # per-channel constant and the gradient would vanish.
    bn = nn.BatchNorm2d(3).train()
    b = torch.randn(3, requires_grad=True)
    bn(x + b.view(1, 3, 1, 1)).square().sum().backward()
    assert b.grad.abs().max() < 1e-4


def test_pos_embed_shape_is_checked():
    layer = ReparamPeripheralConv(3, 13)
    x = torch.randn(1, 3, 8, 8)
    for bad in (torch.zeros(4, 13, 13), torch.zeros(3, 11, 11),
                torch.zeros(3, 13)):
        with pytest.raises(ValueError, match='pos_embed'):
            layer(x, bad)
    with pytest.raises(ValueError, match='pos_embed'):
        PeripheralConv2d(3, 13)(x, torch.zeros(3, 12, 12))


# ------------------------------------------------------------- deployment


@pytest.mark.parametrize('small_kernel', [5, None])
@pytest.mark.parametrize('shape', [(2, 3, 9, 14), (1, 3, 5, 3)])
def test_deploy_equivalence(small_kernel, shape, randomize_bn):
    torch.manual_seed(0)
    layer = ReparamPeripheralConv(3, 13, small_kernel=small_kernel,
                                  centre_size=3).double()
    randomize_bn(layer)
    layer.eval()
    h = torch.randn(3, 13, 13, dtype=torch.float64)
    x = torch.randn(shape, dtype=torch.float64)
    before, before_h = layer(x), layer(x, h)
    layer.switch_to_deploy()
    assert layer.deployed and not hasattr(layer, 'large_conv')
    assert isinstance(layer.fused_conv, DepthwiseConv2d)
    assert layer.fused_conv.weight.shape == (3, 1, 13, 13)
    assert torch.allclose(layer(x), before, atol=1e-10)
    assert torch.allclose(layer(x, h), before_h, atol=1e-10)
    layer.switch_to_deploy()  # idempotent
    assert torch.allclose(layer(x, h), before_h, atol=1e-10)


def test_deployed_checkpoint_loads_into_deploy_built_layer(randomize_bn):
    torch.manual_seed(0)
    layer = ReparamPeripheralConv(3, 31, sharing_grid=[7, 4, 2, 1, 1, 1])
    randomize_bn(layer)
    layer.eval()
    h = torch.randn(3, 31, 31)
    x = torch.randn(1, 3, 10, 7)
    before = layer(x, h)
    layer.switch_to_deploy()
    built = ReparamPeripheralConv(3, 31, sharing_grid=[7, 4, 2, 1, 1, 1],
                                  deploy=True)
    assert built.deployed
    built.load_state_dict(layer.state_dict())  # strict
    assert set(built.state_dict()) == {'fused_conv.weight',
                                       'fused_conv.bias', 'pos_weight'}
    assert torch.allclose(built(x, h), before, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match='kernel_size'):
        ReparamPeripheralConv(3, 12)
    for bad in (4, 13, 15):
        with pytest.raises(ValueError, match='small_kernel'):
            ReparamPeripheralConv(3, 13, small_kernel=bad)
    with pytest.raises(ValueError, match='sharing_grid'):
        ReparamPeripheralConv(3, 13, sharing_grid=[4, 1])
