# RepLKNet-31B (ImageNet-1K pre-training) + UperNet on Cityscapes, 769x769
# crops, 80k iterations: paper Table 7, 83.1 mIoU single-scale, 83.5
# multi-scale (the _ms config). The official release's recipe at 8 GPUs x 2
# images (configs/replknet/README.md, "Cityscapes"). Set the ImageNet-1K
# RepLKNet-31B: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_replknet-31B.py',
    'mmseg::_base_/datasets/cityscapes_769x769.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/schedule_adamw_warmup-poly_80k.py',
]

crop_size = (769, 769)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=19, align_corners=True),
    auxiliary_head=dict(num_classes=19, align_corners=True))

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)

# The release's 400 warm-up iterations of 20k, as 1600 of 80k.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1600),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1600,
         end=80000),
]
