# RepLKNet-31B fine-tuned at 384x384 from the 224x224 ImageNet-1K model: paper
# Table 6, 84.8 top-1 (79M params, 45.1 GFLOPs); recipe:
# configs/replknet/README.md. The whole 224 classifier (backbone and head) is
# the starting point:
#   --cfg-options model.init_cfg.checkpoint=PATH_TO_224_CHECKPOINT
_base_ = [
    '../_base_/models/replknet-31B_in1k.py',
    '../_base_/datasets/imagenet_randaug_384.py',
    '../_base_/schedules/imagenet_adamw_layer-decay_30e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(drop_path_rate=0.8),
    train_cfg=None,  # no Mixup/CutMix
    init_cfg=dict(type='Pretrained', checkpoint=None))

# Model EMA as timm's ModelEma of the official script, which averages the
# BN running statistics too: mmengine's EMAHook copies them from the live
# model unless update_buffers=True.
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
# 32 GPUs x 32 images (the dataset base's 32 per GPU).
auto_scale_lr = dict(base_batch_size=1024)
