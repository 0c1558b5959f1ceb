"""lkmm components build from configs of all three OpenMMLab libraries."""
import importlib

import pytest
import torch
from mmengine.registry import DefaultScope, init_default_scope

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg
from lkmm.models import RepLKNet
from lkmm.registry import MODELS as LKMM_MODELS

TINY = dict(channels=[8, 16, 24, 32], layers=[1, 1, 1, 1],
            kernel_sizes=[13, 11, 9, 7], small_kernel=3)


def _models_registry(scope):
    return importlib.import_module(f'{scope}.registry').MODELS


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


def _build_from_config(cfg_dict):
    """Build ``model`` as tools/train.py does: custom_imports + the scope."""
    from mmengine.config import Config
    return build_model_from_cfg(Config(cfg_dict))


CUSTOM_IMPORTS = dict(imports=['lkmm'], allow_failed_imports=False)


def test_classifier_config_in_mmpretrain_scope():
    model = _build_from_config(dict(
        default_scope='mmpretrain',
        custom_imports=CUSTOM_IMPORTS,
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='lkmm.RepLKNet', arch=TINY, final_norm=True),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=5,
                      in_channels=TINY['channels'][-1]))))
    assert isinstance(model.backbone, RepLKNet)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert out.shape == (2, 5)


def test_detector_config_in_mmdet_scope():
    model = _build_from_config(dict(
        default_scope='mmdet',
        custom_imports=CUSTOM_IMPORTS,
        model=dict(
            type='RetinaNet',
            data_preprocessor=dict(type='DetDataPreprocessor',
                                   pad_size_divisor=32),
            backbone=dict(type='lkmm.RepLKNet', arch=TINY,
                          out_indices=(1, 2, 3)),
            neck=dict(type='FPN', in_channels=TINY['channels'][1:],
                      out_channels=16, start_level=0,
                      add_extra_convs='on_input', num_outs=3),
            bbox_head=dict(
                type='RetinaHead', num_classes=3, in_channels=16,
                stacked_convs=1, feat_channels=16,
                anchor_generator=dict(
                    type='AnchorGenerator', octave_base_scale=4,
                    scales_per_octave=1, ratios=[1.0],
                    strides=[8, 16, 32]),
                bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                loss_cls=dict(type='FocalLoss', use_sigmoid=True),
                loss_bbox=dict(type='L1Loss')),
            test_cfg=dict(nms_pre=100, score_thr=0.05, max_per_img=10,
                          nms=dict(type='nms', iou_threshold=0.5)))))
    assert isinstance(model.backbone, RepLKNet)
    model.eval()
    with torch.no_grad():
        cls_scores, _ = model(torch.randn(1, 3, 64, 64), mode='tensor')
    assert [s.shape[-1] for s in cls_scores] == [8, 4, 2]
