# RepLKNet-31B + UperNet on ADE20K, 512x512, 160k iterations.
# Paper "Scaling Up Your Kernels to 31x31", Table 8 row 1 (ImageNet-1K
# pre-training): 49.9 mIoU single-scale, 50.6 multi-scale; 112M params,
# 1170 GFLOPs at 2048x512.
#
# Schedule as the paper: 8 GPUs x 2 images, 160k iterations (2.56M images).
# NOTE: the official release (RepLKNet-pytorch) instead trained 40k
# iterations with 64 GPUs x 2 images (5.12M images, twice as many); to follow
# it, run 64 GPUs with
#   --cfg-options train_cfg.max_iters=40000
# and scale the scheduler ends to 40000.
#
# Multi-scale test: configs/replknet/upernet_ade20k_ms.py or
#   tools/test.py CONFIG CKPT --tta
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    '../_base_/datasets/ade20k_tta-2048x512.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

crop_size = (512, 512)
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
        # The ImageNet-1K RepLKNet-31B checkpoint (lkmm format): set it with
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
        # refuses to start without it; init_cfg=None trains from scratch.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(
        in_channels=[128, 256, 512, 1024],
        channels=512,
        pool_scales=(1, 2, 3, 6),
        num_classes=150,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=512,
        in_index=2,
        channels=256,
        num_classes=150,
        norm_cfg=norm_cfg,
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

max_iters = 160000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=16000)
