# Classification demo: a tiny RepLKNet (kernels 17-15-13-7) on the generated
# 8-class shapes set (tools/misc/make_demo_data.py --task classification
# --num-train 48), a few minutes on a CPU: replknet-31B_32xb64-300e_in1k.py
# shrunk, with a lighter augmentation (configs/demo/README.md).
_base_ = '../replknet/replknet-31B_32xb64-300e_in1k.py'

data_root = 'data/lkmm_shapes_cls'
num_classes = 8
classes = ('disk_checker', 'disk_stripes', 'ring_checker', 'ring_stripes',
           'square_checker', 'square_stripes', 'triangle_checker',
           'triangle_stripes')
img_size = 64

data_preprocessor = dict(num_classes=num_classes)
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,  # replaces the base's arch name '31B'
            channels=[16, 32, 64, 128],
            layers=[1, 1, 2, 1],
            kernel_sizes=[17, 15, 13, 7],
            small_kernel=5),
        drop_path_rate=0.1),
    head=dict(num_classes=num_classes, in_channels=128),
    train_cfg=None)  # no Mixup/CutMix

# Light augmentation: with 384 training images and a few hundred iterations
# the full recipe's RandAugment and Mixup/CutMix keep the model at chance.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.6, 1.),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=72, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
dataset = dict(type='ImageNet', data_root=data_root,
               metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(split='train', pipeline=train_pipeline, **dataset))
val_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(split='val', pipeline=test_pipeline, **dataset))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=4e-3))
warmup_epochs = 2
max_epochs = 60
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
# EMA with a short horizon: the run has a few hundred iterations. Buffers
# (BN statistics) are averaged too, as the published config (timm's EMA).
custom_hooks = [
    dict(type='EMAHook', momentum=1e-2, update_buffers=True,
         priority='ABOVE_NORMAL'),
    dict(type='lkmm.BaselineValHook', metric='accuracy/top1'),
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
