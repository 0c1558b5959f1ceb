# RepLKNet-31B (ImageNet-1K pre-training) + UperNet on ADE20K, 512x512, 160k
# iterations: paper Table 8 row 1, 49.9 mIoU single-scale, 50.6 multi-scale
# (upernet_ade20k_ms.py or tools/test.py --tta). The official release's recipe
# at 8 GPUs x 2 images (schedule and lr: configs/replknet/README.md, "ADE20K").
# Set the ImageNet-1K RepLKNet-31B (lkmm format; training refuses to start
# without it): --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_replknet-31B.py',
    '../_base_/datasets/ade20k_tta-2048x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/schedule_adamw_warmup-poly_160k.py',
]

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)
