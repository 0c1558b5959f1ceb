# SLaK's ImageNet-1K schedule (the official SLaK command, which keeps
# ConvNeXt's main.py defaults), followed by PeLK: the optimizer of
# imagenet_bs2048_adamw_120e.py (AdamW lr 4e-3, betas (0.9, 0.999), weight
# decay 0.05 with none on norms, biases and other 1-D tensors such as
# LayerScale; PeLK's (C, K, K) positional embeddings are decayed, as
# ConvNeXt's optimizer factory decays every >= 2-D tensor) at total batch
# 4096, a 20-epoch linear warm-up from 1e-3 of the lr, then per-iteration
# cosine to 1e-6, 300 epochs; validation every epoch. --auto-scale-lr
# rescales the lr from 4096.
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
