"""LargeKernelConvNeXt: the PeLK / SLaK / ConvNeXt-31 family."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from lkmm.layers import DepthwiseConv2d, PartialConv
from lkmm.models import LargeKernelConvNeXt
from lkmm.registry import MODELS


def tiny(form, **kwargs):
    arch = dict(depths=[1, 1, 2, 1], channels=[16, 16, 24, 32],
                kernel_sizes=[15, 13, 11, 7], form=form)
    if form == 'peripheral':
        arch.update(partial_ratio=3 / 8, pos_embed=True, centre_size=3)
    arch.update(kwargs)
    return arch



@pytest.mark.parametrize('form', ['dense', 'stripe', 'peripheral'])
@pytest.mark.parametrize('size', [(64, 64), (67, 45)])
def test_shapes_and_deploy_equivalence(form, size, randomize_bn):
    torch.manual_seed(0)
    model = LargeKernelConvNeXt(arch=tiny(form), out_indices=(0, 1, 2, 3),
                                gap_before_final_norm=False,
                                layer_scale_init_value=1.)
    model.init_weights()
    randomize_bn(model).eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        outs = model(x)
        h, w = size
        for i, (out, c) in enumerate(zip(outs, [16, 16, 24, 32])):
            stride = 4 * 2**i
            # Strided convs without padding floor the size.
            assert out.shape == (2, c, h // stride, w // stride)
        model.switch_to_deploy()
        deployed = model(x)
    for a, b in zip(outs, deployed):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
    kinds = {type(b.large_kernel) for s in model.stages for b in s.blocks}
    if form == 'peripheral':
        assert kinds == {PartialConv}
    lks = [getattr(b.large_kernel, 'conv', b.large_kernel)
           for s in model.stages for b in s.blocks]
    assert all(lk.deployed for lk in lks)
    assert all(isinstance(lk.fused_conv, DepthwiseConv2d) for lk in lks)


def test_classification_output_and_training_step():
    model = LargeKernelConvNeXt(arch=tiny('peripheral'), drop_path_rate=0.1)
    out = model(torch.randn(2, 3, 64, 64))
    assert len(out) == 1 and out[0].shape == (2, 32)
    out[0].sum().backward()
    # The stage's shared positional embedding and the shared peripheral
    # parameters are trained.
    assert model.stages[0].pos_embed.weight.grad is not None
    assert model.stages[0].pos_embed.weight.shape == (6, 15, 15)
    lk = model.stages[0].blocks[0].large_kernel
    assert lk.conv_channels == 6 and lk.id_channels == 10
    assert lk.conv.large_conv.conv.weight.grad.abs().sum() > 0


def test_arch_zoo_widths_and_registry():
    arch = LargeKernelConvNeXt.arch_zoo
    # SLaK/PeLK: ConvNeXt widths x1.3, truncated.
    assert arch['pelk-t']['channels'] == [124, 249, 499, 998]
    assert arch['pelk-b']['channels'] == [166, 332, 665, 1331]
    assert arch['pelk-s']['depths'] == [3, 3, 27, 3]
    assert arch['pelk-b-101']['kernel_sizes'] == [101, 69, 67, 13]
    assert arch['pelk-b-101']['centre_size'] == 7
    assert arch['slak-t']['form'] == 'stripe'
    assert arch['convnext-31-t']['kernel_sizes'] == [31, 29, 27, 13]
    model = MODELS.build(dict(type='lkmm.LargeKernelConvNeXt',
                              arch=tiny('stripe')))
    assert isinstance(model, LargeKernelConvNeXt)


def test_frozen_stages_and_norm_eval():
    model = LargeKernelConvNeXt(arch=tiny('dense'), frozen_stages=2,
                                norm_eval=True)
    model.train()
    for i in range(2):
        assert not any(p.requires_grad
                       for p in model.stages[i].parameters())
        assert not any(p.requires_grad
                       for p in model.downsample_layers[i].parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))


def test_with_cp_matches():
    torch.manual_seed(0)
    a = LargeKernelConvNeXt(arch=tiny('peripheral'), with_cp=True)
    b = LargeKernelConvNeXt(arch=tiny('peripheral'))
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    a(x)[0].sum().backward()
    ga = x.grad.clone()
    x.grad = None
    b(x)[0].sum().backward()
    assert torch.allclose(ga, x.grad, atol=1e-5)


@pytest.mark.parametrize('arch, match', [
    ('pelk-x', 'Unknown arch "pelk-x"'),
    (dict(depths=[1], channels=[8], kernel_sizes=[7], form='lora'),
     "arch \"form\" must be one of \\('dense', 'stripe', 'peripheral'\\)"),
    (dict(depths=[1], channels=[8], kernel_sizes=[8], form='dense'),
     'positive odd'),
    (dict(depths=[1], channels=[8], kernel_sizes=[7], form='dense',
          pos_embed=True), 'needs form "peripheral"'),
    (dict(depths=[1], channels=[8], kernel_sizes=[7], form='peripheral',
          partial_ratio=0), 'partial_ratio'),
    (dict(depths=[1, 1], channels=[8], kernel_sizes=[7], form='dense'),
     'same length'),
    (dict(depths=[1], channels=[8], kernel_sizes=[7], form='dense',
          kernel=3), 'Unknown arch keys'),
])
def test_bad_arch(arch, match):
    with pytest.raises(ValueError, match=match):
        LargeKernelConvNeXt(arch=arch)


@pytest.mark.parametrize('name', ['LargeKernelConvNeXt', 'ParCNetV2'])
def test_pretrained_without_checkpoint_is_refused(name):
    arch = tiny('dense') if name == 'LargeKernelConvNeXt' else '10m'
    model = MODELS.build(dict(type=f'lkmm.{name}', arch=arch, init_cfg=dict(
        type='Pretrained', checkpoint=None)))
    with pytest.raises(ValueError, match=f'{name}: a Pretrained init_cfg is '
                       'set but its "checkpoint" is not set: pass '
                       '--cfg-options model.backbone.init_cfg.checkpoint'):
        model.init_weights()
