"""The converter tool (lkmm.cli.convert): ``convert.py`` recognises the
family of a foreign file and converts it like the family's own tool;
``--safetensors`` output of the RepLKNet and ParCNetV2 tools (the SLaK
tool's is tested in test_large_kernel_convnext_checkpoint.py) is a real
safetensors file and mmengine's ``load_checkpoint`` (through lkmm's loader)
puts equal weights into the model."""
import os

import pytest
import torch
from mmengine.runner import load_checkpoint
from safetensors import safe_open

from lkmm.models.backbones.parcnetv2_checkpoint import (
    lkmm_to_parcnetv2_state_dict,
)
from lkmm.registry import MODELS as LKMM_MODELS

REPLKNET_ARCH = dict(channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
                     kernel_sizes=[13, 11, 9, 7], small_kernel=3,
                     dw_ratio=1, ffn_ratio=2)
PARCNETV2_ARCH = dict(depths=[1, 1, 2, 1], channels=[8, 16, 24, 32],
                      norm='L2LN', block='release',
                      res_scale=[False, False, True, True],
                      layer_scale=False, resize_kernels=False)


def randomize(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
    return model


def classifier(backbone, neck=None):
    from mmpretrain.registry import MODELS
    return MODELS.build(dict(
        type='ImageClassifier', _scope_='mmpretrain', backbone=backbone,
        neck=neck, head=dict(type='LinearClsHead', num_classes=5,
                             in_channels=32)))


def assert_same_weights(model, reference):
    expected = reference.state_dict()
    got = model.state_dict()
    assert got.keys() == expected.keys()
    for key, value in got.items():
        assert torch.equal(value, expected[key]), key


@pytest.mark.parametrize('how', ['option', 'suffix'])
def test_replknet_tool_writes_safetensors(tmp_path, how):
    from lkmm.cli.convert import replknet_to_lkmm_main as main
    backbone = dict(type='lkmm.RepLKNet', arch=REPLKNET_ARCH,
                    final_norm=True)
    src_model = randomize(classifier(
        backbone, neck=dict(type='GlobalAveragePooling')))
    src = tmp_path / 'replknet_lkmm.pth'
    torch.save({'state_dict': src_model.state_dict()}, src)
    dst = tmp_path / 'bb.safetensors'
    argv = [str(src), str(dst), '--target', 'backbone']
    if how == 'option':
        dst = tmp_path / 'bb.tmp'
        argv = [str(src), str(dst), '--target', 'backbone', '--safetensors']
    assert main(argv) == 0
    with safe_open(str(dst), framework='pt') as f:
        assert f.metadata()['format'] == 'pt'
        assert 'replknet_to_lkmm.py' in f.metadata()['lkmm_meta']
    if how == 'option':
        dst = dst.rename(tmp_path / 'bb.safetensors')
    model = LKMM_MODELS.build(backbone)
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['target'] == 'backbone'
    assert_same_weights(model, src_model.backbone)


def test_parcnetv2_tool_writes_safetensors(tmp_path):
    from lkmm.cli.convert import parcnetv2_to_lkmm_main as main
    backbone = dict(type='lkmm.ParCNetV2', arch=PARCNETV2_ARCH,
                    train_size=64)
    src_model = randomize(classifier(backbone), seed=1)
    released = lkmm_to_parcnetv2_state_dict(src_model.state_dict())
    src = tmp_path / 'parcnetv2_released.pth'
    torch.save({'state_dict': released}, src)
    dst = tmp_path / 'out' / 'parcnetv2.safetensors'
    dst.parent.mkdir()
    dst.write_bytes(b'previous')
    # A failed run leaves DST as it was.
    assert main([str(src), str(dst), '--format', 'dense']) == 1
    assert dst.read_bytes() == b'previous'
    assert main([str(src), str(dst)]) == 0
    assert os.listdir(dst.parent) == ['parcnetv2.safetensors']
    model = classifier(backbone)
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['parcnetv2_kwargs']['train_size'] == 64
    assert_same_weights(model, src_model)


def test_generic_tool_recognises_the_family(tmp_path, capsys):
    from lkmm.cli.convert import convert_main
    backbone = dict(type='lkmm.ParCNetV2', arch=PARCNETV2_ARCH,
                    train_size=64)
    src_model = randomize(classifier(backbone), seed=2)
    src = tmp_path / 'released.pth'
    torch.save({'state_dict': lkmm_to_parcnetv2_state_dict(
        src_model.state_dict())}, src)
    dst = tmp_path / 'lkmm.pth'
    assert convert_main([str(src), str(dst)]) == 0
    assert 'family: parcnetv2 (lkmm.ParCNetV2)' in capsys.readouterr().out
    model = classifier(backbone)
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['family'] == 'parcnetv2'
    assert checkpoint['meta']['converted_by'] == \
        'tools/model_converters/convert.py'
    assert_same_weights(model, src_model)
    # Told the wrong family, the family's own check refuses it.
    assert convert_main([str(src), str(dst), '--family', 'slak']) == 1
    assert 'not a released SLaK checkpoint' in capsys.readouterr().err


def test_generic_tool_names_the_families_it_knows(tmp_path, capsys):
    from lkmm.cli.convert import convert_main
    src = tmp_path / 'other.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(2, 3)}}, src)
    assert convert_main([str(src), str(tmp_path / 'dst.pth')]) == 1
    err = capsys.readouterr().err
    assert 'no lkmm family recognises' in err and "'conv1.weight'" in err
    for family in ('replknet', 'slak', 'parcnetv2'):
        assert family in err
    assert not (tmp_path / 'dst.pth').exists()
