# RepLKNet-31B (ImageNet-22K pre-training) + UperNet on ADE20K, 640x640 crops,
# 160k iterations: paper Table 8, 51.5 mIoU single-scale, 52.3 multi-scale (the
# _ms config). upernet_ade20k.py with 640 crops, drop path 0.3 and a sliding
# test, as the official release (configs/replknet/README.md, "ADE20K"). Set the
# 22K RepLKNet-31B: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_ade20k.py'

crop_size = (640, 640)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(drop_path_rate=0.3),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(426, 426)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
# Validation / test: the inherited single-scale pipeline (resize to fit
# 2048x512, keep ratio), windows per model.test_cfg.
