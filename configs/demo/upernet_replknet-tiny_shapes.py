# The demo: a reduced-width RepLKNet with real large kernels (17/15/13/13)
# + UperNet, trained on the generated "shapes" set (ADE20K layout, 64x64,
# written by tools/misc/make_demo_data.py) on a few CPU cores in minutes.
# It is configs/replknet/upernet_ade20k.py with the sizes shrunk, so the demo
# exercises the published config's machinery.
_base_ = '../replknet/upernet_ade20k.py'

data_root = 'data/lkmm_shapes'
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
num_classes = 4
metainfo = dict(
    classes=('background', 'disk', 'square', 'triangle'),
    palette=[[120, 120, 120], [220, 60, 60], [60, 200, 60], [60, 90, 230]])

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
        in_channels=[16, 32, 64, 128],
        channels=32,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=64, channels=16, num_classes=num_classes,
        norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=metainfo,
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline,
        **dataset))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline,
        **dataset))
test_dataloader = val_dataloader
# Multi-scale + flip test (tools/test.py --tta): ratios of the 64x64 scale.
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(int(64 * r), int(64 * r)),
                     keep_ratio=True) for r in (0.75, 1.0, 1.5)
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')],
        ]),
]

optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_iters = 600
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=50),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=50,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=200, max_keep_ckpts=2))
custom_hooks = [
    dict(type='lkmm.BaselineValHook', metric='mIoU'),
    dict(type='lkmm.IterationSeedHook'),
]
randomness = dict(seed=0, deterministic=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
