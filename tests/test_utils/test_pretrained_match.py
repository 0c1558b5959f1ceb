"""Pretrained loading that cannot silently do nothing
(lkmm/utils/pretrained_match.py): a foreign layout stops with the converter
that fits it, expected partial loads keep working, unreadable files get one
clear message each."""
import pytest
import torch
from mmengine.config import Config

from lkmm.engine.runner import build_model_from_cfg
from lkmm.registry import MODELS
from lkmm.utils.pretrained_match import (
    PretrainedMismatchError,
    check_pretrained_match,
    suggest_converter,
)

ARCH = dict(channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
            kernel_sizes=[7, 7, 5, 5], small_kernel=3)
CONVNEXT = dict(depths=[1, 1, 2, 1], channels=[16, 16, 24, 32],
                kernel_sizes=[13, 11, 9, 7], form='stripe')


def _backbone(checkpoint=None, prefix=None, type_='RepLKNet', arch=ARCH):
    init_cfg = None if checkpoint is None else dict(
        type='Pretrained', checkpoint=checkpoint, prefix=prefix)
    return MODELS.build(dict(type=f'lkmm.{type_}', arch=arch,
                             init_cfg=init_cfg))


def _official(state_dict):
    """lkmm RepLKNet keys in the official layout (block keys
    stages.i.blocks.j, as the official code names them)."""
    return {k.replace('stages.', 'stages.').replace(
        f'stages.{k.split(".")[1]}.', f'stages.{k.split(".")[1]}.blocks.', 1)
        if k.startswith('stages.') else k: v for k, v in state_dict.items()}


def _slak(state_dict):
    """LargeKernelConvNeXt stripe keys in SLaK's released layout."""
    out = {}
    for k, v in state_dict.items():
        k = k.replace('.blocks.', '.').replace('tall_conv', 'LoRA1') \
            .replace('wide_conv', 'LoRA2')
        out[k] = v
    return out


@pytest.mark.parametrize('layout, family', [
    ('replknet-official', 'replknet'),
    ('slak', 'slak'),
])
def test_foreign_layout_stops_and_names_the_converter(layout, family,
                                                      tmp_path):
    if layout == 'slak':
        source = _slak(_backbone(type_='LargeKernelConvNeXt',
                                 arch=CONVNEXT).state_dict())
        build = dict(type_='LargeKernelConvNeXt', arch=CONVNEXT)
    else:
        source = _official(_backbone().state_dict())
        build = {}
    path = str(tmp_path / 'foreign.pth')
    torch.save(dict(model=source), path)  # as the release scripts save
    model = _backbone(path, **build)
    with pytest.raises(PretrainedMismatchError) as info:
        model.init_weights()
    message = str(info.value)
    total = len(model.state_dict())
    assert 'fills only' in message and f'of the {total} tensors' in message
    assert 'tools/model_converters/convert.py SRC DST --family ' \
        f'{family} ' in message
    assert 'Source keys not in the model' in message


def test_parcnetv2_release_is_recognised():
    keys = {'stages.0.0.token_mixer.dwconv.weight': torch.zeros(1)}
    assert '--family parcnetv2 ' in suggest_converter(keys)
    assert suggest_converter({'foo.weight': torch.zeros(1)}) is None


def test_lkmm_checkpoint_loads_with_and_without_prefix(tmp_path):
    torch.manual_seed(0)
    source = _backbone()
    classifier = {f'backbone.{k}': v.clone() + 1
                  for k, v in source.state_dict().items()}
    classifier['head.fc.weight'] = torch.zeros(5, 32)
    path = str(tmp_path / 'cls.pth')
    torch.save(dict(state_dict=classifier), path)
    model = _backbone(path, prefix='backbone.')
    model.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(v, classifier[f'backbone.{k}']), k
    # The head left out of a backbone, the backbone into a segmentor: the
    # expected partial loads pass the check.
    segmentor = build_model_from_cfg(Config(dict(
        default_scope='mmseg',
        model=dict(type='EncoderDecoder',
                   backbone=dict(type='lkmm.RepLKNet', arch=ARCH,
                                 out_indices=(0, 1, 2, 3)),
                   decode_head=dict(type='UPerHead',
                                    in_channels=[8, 16, 24, 32],
                                    in_index=[0, 1, 2, 3], channels=16,
                                    num_classes=3),
                   train_cfg=dict(), test_cfg=dict(mode='whole')))))
    matched = check_pretrained_match(segmentor, classifier, path)
    assert matched == len(source.state_dict())


def test_wrong_prefix_is_named(tmp_path):
    path = str(tmp_path / 'bare.pth')
    torch.save(_backbone().state_dict(), path)
    with pytest.raises(PretrainedMismatchError,
                       match='no key starting with prefix "backbone."'):
        _backbone(path, prefix='backbone').init_weights()


@pytest.mark.parametrize('content, message', [
    (b'', r'is empty \(0 bytes\)'),
    ('truncated', 'is truncated or corrupt'),
    (b'<html>Not Found</html>', 'is not a PyTorch checkpoint'),
])
def test_unreadable_files_get_one_message_each(content, message, tmp_path):
    path = tmp_path / 'bad.pth'
    if content == 'truncated':
        full = tmp_path / 'full.pth'
        torch.save(_backbone().state_dict(), full)
        content = full.read_bytes()[:len(full.read_bytes()) // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        _backbone(str(path)).init_weights()


def test_train_tool_refuses_a_foreign_load_from(tools, tmp_path):
    """load_from of a whole model goes through the same check (the
    PretrainedMatchHook lkmm's train tool adds)."""
    model = build_model_from_cfg(Config.fromfile(tools.demo_config))
    source = _official({k[len('backbone.'):]: v for k, v in
                        model.state_dict().items()
                        if k.startswith('backbone.')})
    path = str(tmp_path / 'official.pth')
    torch.save(dict(model=source), path)
    with pytest.raises(AssertionError) as info:
        tools.run([tools.python, 'tools/train.py', tools.demo_config,
                   '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                   f'load_from={path}', 'train_cfg.max_iters=1',
                   *tools.data_options()])
    assert 'tools/model_converters/convert.py SRC DST --family replknet' \
        in str(info.value)
    assert 'fills only 0 of the' in str(info.value)


def test_checked_pretrained_initializer_on_any_module(tmp_path):
    """``lkmm.CheckedPretrained`` is a registered weight initializer: an
    mmengine module outside lkmm gets the same check through its init_cfg."""
    from mmengine.model import BaseModule

    class Net(BaseModule):

        def __init__(self, init_cfg):
            super().__init__(init_cfg=init_cfg)
            self.conv = torch.nn.Conv2d(3, 4, 3)

    good, foreign = tmp_path / 'good.pth', tmp_path / 'foreign.pth'
    torch.manual_seed(0)
    source = Net(None)
    torch.save(source.state_dict(), good)
    torch.save({'other.weight': torch.zeros(4, 3, 3, 3)}, foreign)
    net = Net(dict(type='lkmm.CheckedPretrained', checkpoint=str(good)))
    net.init_weights()
    assert torch.equal(net.conv.weight, source.conv.weight)
    net = Net(dict(type='lkmm.CheckedPretrained', checkpoint=str(foreign)))
    with pytest.raises(PretrainedMismatchError, match='fills only 0 of'):
        net.init_weights()


def test_older_lkmm_key_names_count_as_matching(tmp_path):
    """A ParCNetV2 checkpoint saved before its blocks moved to
    ``stages.i.blocks.k`` fills the model through ``Pretrained``."""
    import re
    arch = dict(depths=[1, 1, 1, 1], channels=[8, 8, 16, 16])
    torch.manual_seed(0)
    source = _backbone(type_='ParCNetV2', arch=arch)
    old = {re.sub(r'^stages\.(\d+)\.blocks\.(\d+)\.', r'stages.\1.\2.', k): v
           for k, v in source.state_dict().items()}
    assert any(re.match(r'stages\.\d+\.\d+\.', k) for k in old)
    path = str(tmp_path / 'old.pth')
    torch.save(old, path)
    model = _backbone(path, type_='ParCNetV2', arch=arch)
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
