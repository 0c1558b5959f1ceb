# RepLKNet's ImageNet-1K fine-tuning schedule (paper Appendix A, official
# commands): 30 epochs, AdamW lr 4e-4, weight decay 1e-8, layer-wise lr decay
# 0.7, 1-epoch warm-up, cosine to 2.5e-3 of each group's lr
# (configs/replknet/README.md, "ImageNet"). The configs set
# auto_scale_lr.base_batch_size to their total batch.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py'

optim_wrapper = dict(
    constructor='lkmm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(lr=4e-4, weight_decay=1e-8),
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
