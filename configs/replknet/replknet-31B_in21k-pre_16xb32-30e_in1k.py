# RepLKNet-31B pre-trained on ImageNet-22K, fine-tuned on ImageNet-1K at
# 224x224: paper Table 6, 85.2 top-1 (79M params, 15.3 GFLOPs); recipe:
# configs/replknet/README.md. Only the backbone comes from the 22K model:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH_TO_22K_CHECKPOINT
_base_ = [
    '../_base_/models/replknet-31B_in1k.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_adamw_layer-decay_30e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    train_cfg=None)  # no Mixup/CutMix

# 16 GPUs x 32 images.
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader

# Model EMA as timm's ModelEma of the official script, which averages the
# BN running statistics too: mmengine's EMAHook copies them from the live
# model unless update_buffers=True.
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
auto_scale_lr = dict(base_batch_size=512)
