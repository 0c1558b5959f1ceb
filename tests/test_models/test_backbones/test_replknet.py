import copy

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info
from torch.nn.modules.batchnorm import _BatchNorm

from lkmm.layers import ReparamLargeKernelConv
from lkmm.models import RepLKNet

TINY = dict(channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
            kernel_sizes=[13, 11, 9, 7], small_kernel=3)



@pytest.mark.parametrize('size', [(64, 64), (65, 97), (33, 47)])
def test_output_shapes_per_index(size):
    model = RepLKNet(arch=TINY, out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, *size))
    assert len(outs) == 4
    h, w = size
    for i, (out, c) in enumerate(zip(outs, TINY['channels'])):
        for _ in range(i + 2):  # stem /4, then /2 per transition
            h, w = (h + 1) // 2, (w + 1) // 2
        assert out.shape == (1, c, h, w), (i, out.shape)
        h, w = size


def test_shapes_225x337_and_negative_index():
    model = RepLKNet(arch=TINY, out_indices=(-1, 1)).eval()
    assert model.out_indices == (3, 1)
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 225, 337))
    # Outputs come in stage order, as in mmpretrain's backbones.
    assert outs[0].shape == (2, 16, 29, 43)
    assert outs[1].shape == (2, 32, 8, 11)


def test_named_archs_structure():
    for name, arch in RepLKNet.arch_zoo.items():
        settings = RepLKNet.parse_arch(name)
        assert settings == arch
    xl = RepLKNet.parse_arch('XL')
    assert xl['small_kernel'] is None and xl['dw_ratio'] == 1.5


def _deploy_equivalence(arch, randomize_bn):
    model = RepLKNet(arch=arch, out_indices=(0, 1, 2, 3),
                     norm_intermediate_features=True)
    randomize_bn(model)
    model.eval()
    x = torch.randn(2, 3, 71, 53)
    with torch.no_grad():
        before = model(x)
        n_before = sum(p.numel() for p in model.parameters())
        model.switch_to_deploy()
        after = model(x)
    n_after = sum(p.numel() for p in model.parameters())
    assert n_after < n_before
    for m in model.modules():
        if isinstance(m, ReparamLargeKernelConv):
            assert m.deployed
            assert not hasattr(m, 'large_conv')
            assert not hasattr(m, 'small_conv')
    for a, b in zip(before, after):
        assert (a - b).abs().max().item() <= 1e-4


def test_deploy_equivalence_with_small_kernel(randomize_bn):
    _deploy_equivalence(TINY, randomize_bn)


def test_deploy_equivalence_without_small_kernel(randomize_bn):
    _deploy_equivalence(dict(TINY, small_kernel=None, dw_ratio=1.5),
                        randomize_bn)


def test_deploy_loads_deployed_state(randomize_bn):
    model = RepLKNet(arch=TINY, out_indices=(3, ))
    randomize_bn(model, seed=3)
    model.eval().switch_to_deploy()
    fresh = RepLKNet(arch=TINY, out_indices=(3, ),
                     deploy=True).eval()
    fresh.load_state_dict(model.state_dict())  # strict: same keys
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x)[0], model(x)[0])


def test_frozen_stages_and_norm_eval():
    model = RepLKNet(arch=TINY, frozen_stages=2, norm_eval=True)
    model.train()
    for p in model.stem.parameters():
        assert not p.requires_grad
    for i in range(2):
        for p in model.stages[i].parameters():
            assert not p.requires_grad
    for p in model.transitions[0].parameters():
        assert not p.requires_grad
    for p in model.transitions[1].parameters():
        assert p.requires_grad
    for p in model.stages[2].parameters():
        assert p.requires_grad
    for m in model.stages[0].modules():
        assert not m.training
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            assert not m.training
    # norm_eval=False: unfrozen BNs train, frozen ones stay in eval.
    model = RepLKNet(arch=TINY, frozen_stages=1).train()
    assert not model.stem[0].bn.training
    assert not model.stages[0][0].pre_norm.training
    assert model.stages[1][0].pre_norm.training
    # 0 freezes nothing, as in every lkmm backbone (the contract's test).
    model = RepLKNet(arch=TINY, frozen_stages=0).train()
    assert model.stem[0].bn.training


def test_with_cp_same_output_and_grads():
    torch.manual_seed(0)
    model = RepLKNet(arch=TINY, out_indices=(2, 3))
    cp_model = copy.deepcopy(model)
    cp_model.with_cp = True
    x = torch.randn(2, 3, 48, 48)
    grads = []
    for m in (model, cp_model):
        m.train()
        m.zero_grad()
        outs = m(x.clone().requires_grad_())
        sum(o.square().mean() for o in outs).backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-5)


def test_final_norm_and_intermediate_norms():
    model = RepLKNet(arch=TINY, out_indices=(1, 3), final_norm=True)
    assert hasattr(model, 'norm3') and not hasattr(model, 'norm1')
    model = RepLKNet(arch=TINY, out_indices=(1, 3),
                     norm_intermediate_features=True)
    assert hasattr(model, 'norm3') and hasattr(model, 'norm1')


def test_drop_path_increases_linearly():
    model = RepLKNet(arch=TINY, drop_path_rate=0.4)
    rates = []
    for stage in model.stages:
        for block in stage:
            dp = block.drop_path
            rates.append(dp.drop_prob if not isinstance(dp, nn.Identity)
                         else 0.)
    # block pairs share a rate; 5 pairs -> linspace(0, 0.4, 5)
    expected = torch.linspace(0, 0.4, 5).repeat_interleave(2).tolist()
    assert rates == pytest.approx(expected)


@pytest.mark.parametrize('arch, field', [
    (dict(TINY, kernel_sizes=[13, 12, 9, 7]), 'kernel_sizes'),
    (dict(TINY, small_kernel=7), 'small_kernel'),
    (dict(TINY, small_kernel=4), 'small_kernel'),
    (dict(TINY, layers=[1, 1, 2]), 'same length'),
    (dict(TINY, depth=[1]), 'Unknown arch keys'),
    (dict(TINY, dw_ratio=0), 'dw_ratio'),
    ('31X', '31B'),
    (dict(channels=[8]), 'missing'),
])
def test_invalid_arch_raises_naming_field(arch, field):
    with pytest.raises(ValueError, match=field):
        RepLKNet(arch=arch)


@pytest.mark.parametrize('kwargs, field', [
    (dict(out_indices=(4, )), 'out_indices'),
    (dict(out_indices=(-5, )), 'out_indices'),
    (dict(out_indices=()), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages'),
])
def test_invalid_args_raise(kwargs, field):
    with pytest.raises(ValueError, match=field):
        RepLKNet(arch=TINY, **kwargs)


def test_pretrained_without_checkpoint_is_a_clear_error():
    model = RepLKNet(arch=TINY, init_cfg=dict(type='Pretrained',
                                              checkpoint=None))
    with pytest.raises(ValueError, match='init_cfg.checkpoint'):
        model.init_weights()


class _Classifier(nn.Module):
    """Backbone + global pool + 1000-way linear, as paper Table 5 counts."""

    def __init__(self, **kwargs):
        super().__init__()
        self.backbone = RepLKNet(final_norm=True, **kwargs)
        self.head = nn.Linear(self.backbone.channels[-1], 1000)

    def forward(self, x):
        x = self.backbone(x)[-1].mean((2, 3))
        return self.head(x)


def test_31b_params_and_flops_match_paper():
    """Paper Table 5: RepLKNet-31B 79.3M params, 15.3 GFLOPs at 224."""
    model = _Classifier(arch='31B').eval()
    train_params = sum(p.numel() for p in model.parameters())
    model.backbone.switch_to_deploy()
    info = get_model_complexity_info(
        model, input_shape=(3, 224, 224), show_table=False, show_arch=False)
    deploy_params = info['params']
    assert deploy_params == pytest.approx(79.3e6, rel=0.01)
    assert train_params > deploy_params
    assert info['flops'] == pytest.approx(15.3e9, rel=0.03)
