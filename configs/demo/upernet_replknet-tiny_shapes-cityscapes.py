# Cityscapes demo: RepLKNet-tiny (kernels 17-15-13-13) + UperNet on generated
# street scenes in Cityscapes layout (tools/misc/make_demo_data.py --task
# cityscapes), a few minutes on a CPU: the published 31B Cityscapes config
# shrunk; tools/test.py --tta runs the multi-scale + flip test
# (configs/demo/README.md).
_base_ = ('../replknet/'
          'upernet_replknet-31B_in1k-pre_8xb2-80k_cityscapes-769x769.py')

data_root = 'data/lkmm_shapes_cityscapes/'
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(
            _delete_=True,  # replaces the base's arch name '31B'
            channels=[16, 32, 64, 128],
            layers=[1, 1, 2, 1],
            kernel_sizes=[17, 15, 13, 13],
            small_kernel=5),
        drop_path_rate=0.1,
        norm_cfg=norm_cfg,
        with_cp=False,
        init_cfg=None),
    decode_head=dict(
        in_channels=[16, 32, 64, 128], channels=32, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=16, norm_cfg=norm_cfg))

# mmseg's 769x769 Cityscapes pipeline at 1/16 scale: images scaled to
# 128x64 x [0.5, 2.0], 64x64 crops; whole-image test at 128x64.
# (No PhotoMetricDistortion: it slows the few hundred iterations down.)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(128, 64), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 64), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# Multi-scale + flip test (tools/test.py --tta): ratios of the 64x128 images.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale_factor=r, keep_ratio=True)
                for r in (0.75, 1.0, 1.25, 1.5)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ]),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_iters = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=30),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=30,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [
    dict(type='lkmm.BaselineValHook', metric='mIoU'),
    dict(type='lkmm.IterationSeedHook'),
]
randomness = dict(seed=0, deterministic=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
