"""lkmm components build from configs of all three OpenMMLab libraries."""
import pytest
import torch
from mmengine.registry import DefaultScope, init_default_scope

import lkmm  # noqa: F401
from lkmm.models import RepLKNet
from lkmm.registry import MODELS as LKMM_MODELS

TINY = dict(channels=[8, 16, 24, 32], layers=[1, 1, 1, 1],
            kernel_sizes=[13, 11, 9, 7], small_kernel=3)


def _models_registry(scope):
    if scope == 'mmpretrain':
        from mmpretrain.registry import MODELS
    elif scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    return MODELS


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmseg', 'mmdet'])
def test_lkmm_backbone_builds_in_every_scope(scope):
    registry = _models_registry(scope)
    with DefaultScope.overwrite_default_scope(scope):
        init_default_scope(scope)
        model = registry.build(
            dict(type='lkmm.RepLKNet', arch=TINY, out_indices=(3, )))
    assert type(model) is RepLKNet


def test_mmpretrain_replknet_is_not_shadowed():
    from mmpretrain.models import RepLKNet as MMPretrainRepLKNet
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert MODELS.get('RepLKNet') is MMPretrainRepLKNet
        assert MODELS.get('lkmm.RepLKNet') is RepLKNet
    assert LKMM_MODELS.scope == 'lkmm'
    assert LKMM_MODELS.get('RepLKNet') is RepLKNet


def test_full_segmentor_from_mmseg_scope():
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', size=(64, 64)),
        backbone=dict(type='lkmm.RepLKNet', arch=TINY,
                      out_indices=(0, 1, 2, 3)),
        decode_head=dict(type='UPerHead', in_channels=TINY['channels'],
                         in_index=[0, 1, 2, 3], channels=16, num_classes=3,
                         pool_scales=(1, 2)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    model = MODELS.build(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert out.shape == (1, 3, 16, 16)
