# RepLKNet's guidelines on MobileNetV2, Cityscapes (paper Tables 3 and 4): the
# 3x3 baseline with mmseg's stock DeepLabv3+. Paper: 72.31 mIoU (val). The
# other rows inherit this file and change only the backbone's arch; recipe and
# wiring: README.md. Set the ImageNet model of the same arch
# (mobilenet-v2-k3_8xb32-100e_in1k.py; training refuses to start without it):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='lkmm.LargeKernelMobileNetV2',
        arch='k3',
        out_indices=(0, 1, 2, 3),
        strides=(2, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        final_channels=None,
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(in_channels=320, c1_in_channels=24),
    auxiliary_head=dict(in_channels=96))
