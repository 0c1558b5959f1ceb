# RepLKNet's ImageNet-1K schedule (paper Appendix A, official commands), the
# 120-epoch one of the kernel-size study (also ConvNeXt-31, RepLKNet
# appendix): AdamW lr 4e-3 at total batch 2048, weight decay 0.05 with none
# on norms, biases and other 1-D tensors (the stock Swin schedule's
# paramwise rules, without its Swin-only custom keys), 10-epoch linear
# warm-up from 1e-3 of the lr, then per-iteration cosine to 1e-6;
# validation every epoch. --auto-scale-lr rescales the lr from 2048.
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
