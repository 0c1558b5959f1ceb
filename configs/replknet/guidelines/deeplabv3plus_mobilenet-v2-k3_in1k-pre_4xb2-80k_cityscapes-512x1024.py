# RepLKNet's large-kernel guidelines on MobileNetV2, Cityscapes (paper
# Tables 3 and 4): the 3x3 baseline with DeepLabv3+. Paper: 72.31 mIoU
# (Cityscapes val; Tables 3 and 4, the same model). The other rows inherit
# this file and change only the backbone's arch; the list is in README.md.
#
# The paper: "We only replace the backbone and keep all the default training
# settings provided by MMSegmentation." So: mmseg's stock DeepLabv3+
# (_base_/models/deeplabv3plus_r50-d8.py: depth-wise separable ASPP head
# with 512 channels and dilations 1-12-24-36, 48-channel low-level branch,
# auxiliary FCN head with loss weight 0.4, SyncBN, whole-image test),
# Cityscapes at 512x1024 crops, 4 GPUs x 2 images, 80k iterations of SGD
# (lr 0.01, momentum 0.9, weight decay 5e-4, poly 0.9 to 1e-4): the stock
# parts mmseg's own mobilenet-v2-d8_deeplabv3plus_4xb2-80k_cityscapes-
# 512x1024.py is built from.
# The backbone is wired as in that config (output stride 8, equal outputs
# for equal weights, tests/test_models/test_backbones/test_mobilenet_v2.py):
# the stride-2 blocks of stages 2 and 3 (the 64- and 160-wide groups) run
# at stride 1, and the first block of each group of stages 2 and 3 (64, 96;
# 160, 320 wide) has its depth-wise conv dilated 2 and 4, as mmseg's
# MobileNetV2 dilates the first block of each layer; the ASPP head reads
# the 320-wide last stage (no 1280-wide final conv), the low-level branch
# stage 0 (24 channels, stride 4) and the auxiliary head stage 2 (96
# channels): mmseg's MobileNetV2 out_indices (1, 2, 4, 6).
# Assumed (the paper does not say): this output stride and dilation (the
# only MobileNetV2 DeepLabv3+ setting mmseg ships), the dilation applying to
# the enlarged kernels too (a dilated 13x13 kernel spans 25x25 or 49x49
# pixels); the 80k schedule (mmseg's MobileNetV2 one); mmseg's 512x1024
# Cityscapes pipeline.
# Starting point: the ImageNet model of the same arch
# (mobilenet-v2-k3_8xb32-100e_in1k.py); training refuses to start until it
# is set: --cfg-options model.backbone.init_cfg.checkpoint=PATH.
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
