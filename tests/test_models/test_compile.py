"""torch.compile of a training step: lkmm's ops (the planned depth-wise op,
the peripheral and oversized convolutions) trace without graph breaks, and
the compiled step computes what eager does."""
import copy

import pytest
import torch
import torch._dynamo as dynamo

from lkmm.registry import MODELS

FAMILIES = {
    'RepLKNet': dict(type='lkmm.RepLKNet', arch=dict(
        channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
        kernel_sizes=[13, 11, 9, 7], small_kernel=3)),
    'PeLK': dict(type='lkmm.LargeKernelConvNeXt', arch=dict(
        depths=[1, 1, 2, 1], channels=[16, 16, 24, 32],
        kernel_sizes=[13, 11, 9, 7], form='peripheral', partial_ratio=3 / 8,
        pos_embed=True, centre_size=3)),
    'SLaK': dict(type='lkmm.LargeKernelConvNeXt', arch=dict(
        depths=[1, 1, 2, 1], channels=[16, 16, 24, 32],
        kernel_sizes=[13, 11, 9, 7], form='stripe')),
    'ParCNetV2': dict(type='lkmm.ParCNetV2', arch=dict(
        depths=[1, 1, 2, 1], channels=[8, 16, 24, 32], norm='BN'),
        train_size=64),
}


def _loss(model, x):
    return sum(o.square().mean() for o in model(x))


def _compiled_step_matches_eager(family, backend, deploy=False):
    torch.manual_seed(0)
    model = MODELS.build(FAMILIES[family])
    if deploy:
        model.eval().switch_to_deploy()
    else:
        model.train()
    reference = copy.deepcopy(model)
    x = torch.randn(2, 3, 64, 64)
    dynamo.reset()
    # fullgraph=True: any graph break (in lkmm's ops or elsewhere) fails.
    compiled = torch.compile(_loss, backend=backend, fullgraph=True)
    loss = compiled(model, x)
    expected = _loss(reference, x)
    if deploy:
        torch.testing.assert_close(loss, expected, rtol=1e-4, atol=0)
        return
    loss.backward()
    expected.backward()
    scale = max(p.grad.abs().max() for p in reference.parameters())
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=0)
    for (name, a), b in zip(model.named_parameters(),
                            reference.parameters()):
        # fp32: differences relative to the largest gradient.
        assert (a.grad - b.grad).abs().max() <= 1e-4 * scale, name


@pytest.mark.parametrize('family', list(FAMILIES))
def test_training_step_traces_whole_and_matches_eager(family):
    """AOTAutograd traces forward and backward (the op's autograd Function
    included) in one graph; exact against eager."""
    _compiled_step_matches_eager(family, 'aot_eager')


@pytest.mark.parametrize('family', list(FAMILIES))
def test_deployed_model_traces_whole(family):
    _compiled_step_matches_eager(family, 'aot_eager', deploy=True)


@pytest.mark.heavy  # inductor compiles C++: about 2 minutes per model here
@pytest.mark.parametrize('family', list(FAMILIES))
def test_inductor_training_step_matches_eager(family):
    _compiled_step_matches_eager(family, 'inductor')
