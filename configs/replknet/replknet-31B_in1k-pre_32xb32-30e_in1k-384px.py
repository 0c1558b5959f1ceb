# RepLKNet-31B fine-tuned at 384x384 from the 224x224 ImageNet-1K model:
# 84.8 top-1, 79M params, 45.1 GFLOPs (paper Table 6 / official release).
# Recipe (paper Appendix A + official command): 32 GPUs x 32 images, 30
# epochs, 1-epoch warm-up then cosine, AdamW lr 4e-4, weight decay 1e-8,
# layer-wise lr decay 0.7, drop path 0.8, same RandAugment and Random
# Erasing, no Mixup/CutMix, model EMA. The whole 224 classifier (backbone
# and head) is the starting point:
#   --cfg-options model.init_cfg.checkpoint=PATH_TO_224_CHECKPOINT
_base_ = [
    '../_base_/models/replknet-31B_in1k.py',
    '../_base_/datasets/imagenet_randaug_384.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(drop_path_rate=0.8),
    train_cfg=None,  # no Mixup/CutMix
    init_cfg=dict(type='Pretrained', checkpoint=None))

optim_wrapper = dict(
    constructor='lkmm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(lr=4e-4, weight_decay=1e-8),
    # The constructor exempts norms, biases and other 1-D tensors from weight
    # decay itself.
    paramwise_cfg=dict(
        _delete_=True, decay_rate=0.7, decay_type='layer_wise'))

warmup_epochs = 1
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=2.5e-3, by_epoch=True,
         begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
]
auto_scale_lr = dict(base_batch_size=1024)
