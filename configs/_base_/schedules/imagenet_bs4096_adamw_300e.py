# SLaK's 300-epoch ImageNet-1K schedule (official SLaK command), followed by
# PeLK: imagenet_bs2048_adamw_120e.py's AdamW at total batch 4096, 20-epoch
# warm-up, cosine to 1e-6 (configs/pelk/README.md, "Recipes").
# --auto-scale-lr rescales the lr from 4096.
_base_ = './imagenet_bs2048_adamw_120e.py'

warmup_epochs = 20
max_epochs = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=4096)
