# RepLKNet-31B, ImageNet-1K, 224x224, 300 epochs: paper Table 6, 83.5 top-1
# (79M params, 15.3 GFLOPs). The kernel-study recipe
# (replknet-31_32xb64-120e_in1k.py) with 300 epochs, drop path 0.5 and model
# EMA. With another total batch than 2048, add --auto-scale-lr.
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
