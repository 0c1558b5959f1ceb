# RepLKNet-31B (ImageNet-1K pre-training) + UperNet on Cityscapes, 769x769
# crops, 80k iterations. Paper Table 7: 83.1 mIoU single-scale, 83.5
# multi-scale; 110M params, 2315 GFLOPs at 1024x2048. (The architecture
# measures 111.8M, in the official code as here: the paper's 110M does not
# reproduce; the FLOPs do.)
#
# Recipe: the official release (RepLKNet-pytorch,
# segmentation/configs/RepLKNet-31B_1Kpretrain_upernet_80k_cityscapes_769.py):
# the ADE20K model of upernet_ade20k.py with 19 classes and
# align_corners=True in both heads; AdamW lr 2e-4, betas (0.9, 0.999),
# weight decay 0.05 (none on norm layers), linear warm-up from 1e-6 then
# poly (power 1) to 0; drop path 0.5, activation checkpointing, SyncBN;
# mmseg's 769x769 Cityscapes pipeline (images scaled to 2049x1025 x
# [0.5, 2.0], 769x769 crops); whole-image test at 2049x1025 (the release's
# choice: mmseg's own 769 configs slide 769x769 windows).
#
# Schedule: 8 GPUs x 2 images x 80k iterations, 1600 warm-up iterations.
# The release trained 32 GPUs x 2 images x 20k iterations with 400 warm-up
# iterations: the same 1.28M images, and the same warm-up share.
#
# Multi-scale + flip test:
# upernet_replknet-31B_in1k-pre_8xb2-80k_cityscapes-769x769_ms.py
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/cityscapes_769x769.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

crop_size = (769, 769)
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='lkmm.RepLKNet',
        arch='31B',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.5,
        norm_cfg=norm_cfg,
        with_cp=True,
        # The ImageNet-1K RepLKNet-31B checkpoint (lkmm format, 224x224
        # model; the official one through
        # tools/model_converters/replknet_to_lkmm.py): set it with
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
        # refuses to start without it; init_cfg=None trains from scratch.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(
        in_channels=[128, 256, 512, 1024],
        channels=512,
        pool_scales=(1, 2, 3, 6),
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True),
    auxiliary_head=dict(
        in_channels=512,
        in_index=2,
        channels=256,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    test_cfg=dict(mode='whole'))

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    # No weight decay on normalization layers.
    paramwise_cfg=dict(norm_decay_mult=0.))

max_iters = 80000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1600),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1600,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=8000)
