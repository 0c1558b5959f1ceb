# RepLKNet-31B, ImageNet-1K, 224x224, 300 epochs: 83.5 top-1, 79M params,
# 15.3 GFLOPs (paper Table 6 / official release).
# Recipe (paper Appendix A, official command): the kernel-study recipe
# (replknet-31_32xb64-120e_in1k.py: 32 GPUs x 64 images, AdamW lr 4e-3 at
# total batch 2048, weight decay 0.05, 10-epoch warm-up then cosine,
# RandAugment, label smoothing 0.1, Mixup 0.8, CutMix 1.0, Random Erasing
# 0.25) with 300 epochs, drop path 0.5 and model EMA (decay 0.9999), whose
# weights are evaluated and saved.
# With another total batch, add --auto-scale-lr (linear scaling from 2048).
_base_ = './replknet-31_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='31B', drop_path_rate=0.5))

warmup_epochs = 10
max_epochs = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)

# Model EMA as timm's ModelEma of the official script, which averages the
# BN running statistics too: mmengine's EMAHook copies them from the live
# model unless update_buffers=True.
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
