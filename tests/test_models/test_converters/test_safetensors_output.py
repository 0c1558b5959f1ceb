"""``--safetensors`` output of the RepLKNet and ParCNetV2 converter tools
(the SLaK tool's is tested in test_slak_converter.py): the file is a real
safetensors file and mmengine's ``load_checkpoint`` (through lkmm's
loader) puts equal weights into the model."""
import os

import pytest
import torch
from mmengine.runner import load_checkpoint
from safetensors import safe_open

from lkmm.models.converters import lkmm_to_parcnetv2_state_dict
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
