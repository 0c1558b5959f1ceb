# RepLKNet-XL pre-trained on MegData-73M (private), fine-tuned on ImageNet-1K
# at 320x320: paper Table 6, 87.8 top-1 (335M params, 128.7 GFLOPs). The
# fine-tune's lr, batch and drop path are not published: assumed, expect to
# tune them (configs/replknet/README.md). Set the pre-trained XL:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH_TO_XL_PRETRAINED
_base_ = './replknet-31B_in21k-pre_32xb16-30e_in1k-384px.py'

img_size = 320
data_preprocessor = dict(
    mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)
model = dict(
    data_preprocessor=data_preprocessor,
    # Drop path of the fine-tune not published; 0.2 as in pre-training.
    backbone=dict(arch='XL', drop_path_rate=0.2),
    head=dict(in_channels=2048))

bgr_mean = [127.5, 127.5, 127.5]
bgr_std = [127.5, 127.5, 127.5]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2,
         total_level=10, magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[128, 128, 128], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand',
         min_area_ratio=0.02, max_area_ratio=1 / 3, fill_color=bgr_mean,
         fill_std=bgr_std),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_size, backend='pillow',
         interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    paramwise_cfg=dict(decay_rate=0.4, decay_type='stage_wise'))

warmup_epochs = 1
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=2.5e-3, by_epoch=True,
         begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, convert_to_iter_based=True),
]
