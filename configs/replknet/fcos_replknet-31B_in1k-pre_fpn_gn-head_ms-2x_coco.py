# RepLKNet-31B (ImageNet-1K pre-training) + FCOS on COCO, 2x.
# Paper "Scaling Up Your Kernels to 31x31", Table 9 (and the official README):
# 47.0 AP box on val2017; 87M params, 437 GFLOPs at 1280x800 (inference
# model: re-parameterized backbone, FPN and head on the features, no
# post-processing, as mmdet 2.x forward_dummy counted).
#
# Recipe of the official release (RepLKNet-31B_1Kpretrain_fcos_2x_coco.py):
# * Plain FCOS as mmdet's FCOSHead defaults: classification and regression
#   towers of 4 convs with GroupNorm (32 groups), centerness on the
#   classification branch, no center sampling, no normalized box targets,
#   IoU loss, focal loss; FPN from the second backbone stage (strides
#   8..128), P6/P7 from P5 with a ReLU in between.
# * Backbone: SyncBN, drop path 0.5, activation checkpointing.
# * 24 epochs (2x), AdamW lr 2e-4, betas (0.9, 0.999), weight decay 0.05
#   (none on norm layers), gradient clipping at norm 35, 500-iteration
#   constant warm-up at 1/3 of the lr, lr x0.1 after epochs 16 and 22.
# * Multi-scale training: short side 640 or 800 (long side <= 1333), random
#   flip; single-scale test at 1333x800. 2 images per GPU (GPU count not
#   published).
# Release vs this config: the release's optimizer dict has no _delete_, so it
# also inherits `momentum=0.9` from the SGD of mmdet's schedule_1x, which
# torch's AdamW does not accept; it is left out here. Its model train_cfg
# carries a MaxIoUAssigner that FCOS never uses; also left out.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py'
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

model = dict(
    # RGB ImageNet mean/std of the pre-training (the stock FCOS config is
    # for a BGR caffe ResNet).
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='lkmm.RepLKNet',
        arch='31B',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.5,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        with_cp=True,
        # The ImageNet-1K RepLKNet-31B checkpoint (lkmm format): set it with
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
        # refuses to start without it; init_cfg=None trains from scratch.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    neck=dict(in_channels=[128, 256, 512, 1024], start_level=1),
    bbox_head=dict(
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        centerness_on_reg=False,
        norm_on_bbox=False,
        center_sampling=False))

train_dataloader = dict(batch_size=2)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.),
    clip_grad=dict(max_norm=35, norm_type=2))
