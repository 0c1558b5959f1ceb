"""The README's few lines turn stock mmseg / mmdet configs into lkmm-backbone
configs that build, compute a loss and predict."""
import textwrap

import pytest
import torch
from mmengine.model import revert_sync_batchnorm

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.utils.model_checks import ChannelMismatchError

# The lines the README shows (31B widths 128-256-512-1024).
SWAPS = {
    'mmseg::upernet/upernet_r50_4xb2-80k_cityscapes-512x1024.py': '''
        model = dict(
            pretrained=None,
            backbone=dict(
                _delete_=True, type='lkmm.RepLKNet', arch='31B',
                out_indices=(0, 1, 2, 3), drop_path_rate=0.3),
            decode_head=dict(in_channels=[128, 256, 512, 1024]),
            auxiliary_head=dict(in_channels=512))
    ''',
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py': '''
        model = dict(
            backbone=dict(
                _delete_=True, type='lkmm.RepLKNet', arch='31B',
                out_indices=(0, 1, 2, 3), drop_path_rate=0.3),
            neck=dict(in_channels=[128, 256, 512, 1024]))
    ''',
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py': '''
        model = dict(
            backbone=dict(
                _delete_=True, type='lkmm.RepLKNet', arch='31B',
                out_indices=(0, 1, 2, 3), drop_path_rate=0.3),
            neck=dict(in_channels=[128, 256, 512, 1024]))
    ''',
}


def write_config(tmp_path, base, body):
    text = f"_base_ = '{base}'\n" \
        "custom_imports = dict(imports=['lkmm'], " \
        "allow_failed_imports=False)\n" \
        + textwrap.dedent(body)
    path = tmp_path / 'swapped.py'
    path.write_text(text)
    return str(path)


def seg_batch(size=64, batch=2):
    # Batch 2: the pyramid pooling's 1x1 BN needs more than one value.
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 19, (1, size, size)))
        samples.append(sample)
    return torch.randn(batch, 3, size, size), samples


def det_batch(model, size=128):
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(batch_size=1, image_shapes=[(3, size, size)],
                            num_items=[3], num_classes=80, with_mask=True)
    data = model.data_preprocessor(packed, True)
    return data['inputs'], data['data_samples']


@pytest.mark.parametrize('base', sorted(SWAPS))
def test_swapped_stock_config_trains_and_predicts(tmp_path, base):
    cfg = load_config(write_config(tmp_path, base, SWAPS[base]), work_dir='')
    torch.manual_seed(0)
    # CPU test: SyncBN of the stock config becomes BN (the config keeps it).
    model = revert_sync_batchnorm(build_model_from_cfg(cfg))
    assert type(model.backbone).__name__ == 'RepLKNet'
    if base.startswith('mmseg'):
        inputs, samples = seg_batch()
    else:
        inputs, samples = det_batch(model)
    model.train()
    losses = model.loss(inputs, samples)
    total = sum(v.sum() for k, v in losses.items() if 'loss' in k
                and isinstance(v, torch.Tensor)) + sum(
        sum(x.sum() for x in v) for k, v in losses.items()
        if 'loss' in k and isinstance(v, list))
    assert torch.isfinite(total)
    total.backward()
    grad = model.backbone.stem[0].conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, samples)
    assert len(results) == len(samples)
    if base.startswith('mmseg'):
        assert results[0].pred_sem_seg.data.shape[-2:] == inputs.shape[-2:]
    else:
        assert results[0].pred_instances.bboxes.shape[-1] == 4


@pytest.mark.parametrize('base,key', [
    ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
     'model.neck.in_channels'),
    ('mmseg::upernet/upernet_r50_4xb2-80k_cityscapes-512x1024.py',
     'model.decode_head.in_channels'),
])
def test_forgotten_in_channels_names_what_the_backbone_gives(tmp_path, base,
                                                             key):
    body = '''
        model = dict(
            pretrained=None,
            backbone=dict(
                _delete_=True, type='lkmm.RepLKNet', arch='31B',
                out_indices=(0, 1, 2, 3)))
    '''
    if base.startswith('mmdet'):
        body = body.replace('pretrained=None,', '')
    cfg = load_config(write_config(tmp_path, base, body), work_dir='')
    with pytest.raises(ChannelMismatchError) as info:
        build_model_from_cfg(cfg)
    message = str(info.value)
    assert key in message and '[128, 256, 512, 1024]' in message
    assert '[256, 512, 1024, 2048]' in message


def test_classifier_head_checked(tmp_path):
    body = '''
        model = dict(backbone=dict(
            _delete_=True, type='lkmm.RepLKNet', arch='31B',
            final_norm=True))
    '''
    cfg = load_config(write_config(
        tmp_path, 'mmpretrain::resnet/resnet50_8xb32_in1k.py', body),
        work_dir='')
    with pytest.raises(ChannelMismatchError,
                       match=r'model.head.in_channels=1024'):
        build_model_from_cfg(cfg)
