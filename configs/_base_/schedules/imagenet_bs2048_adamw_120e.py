# RepLKNet's 120-epoch ImageNet-1K schedule (paper Appendix A, official
# commands; also ConvNeXt-31's): AdamW lr 4e-3 at total batch 2048, weight
# decay 0.05 (none on norms, biases, 1-D tensors), 10-epoch warm-up, cosine to
# 1e-6 (configs/replknet/README.md). --auto-scale-lr rescales from 2048.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py'

optim_wrapper = dict(
    optimizer=dict(lr=4e-3, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys=dict(_delete_=True)))

warmup_epochs = 10
max_epochs = 120
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=2048)
