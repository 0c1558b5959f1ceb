# RepLKNet-31B (ImageNet-1K pre-training) + FCOS on COCO, 2x: paper Table 9,
# 47.0 box AP on val2017 (87M params, 437 GFLOPs at 1280x800). The official
# release's recipe without its two inconsistencies (configs/replknet/README.md,
# "COCO").
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
