# RepLKNet's ImageNet-1K fine-tuning schedule (paper Appendix A, official
# commands: 384 fine-tune of the 1K model, 22K->1K fine-tunes): 30 epochs,
# AdamW lr 4e-4, weight decay 1e-8, layer-wise lr decay 0.7 through
# lkmm.LayerDecayOptimWrapperConstructor (which exempts norms, biases and
# other 1-D tensors from weight decay itself), 1-epoch linear warm-up from
# 1e-3 of the lr, then per-iteration cosine to 2.5e-3 of each group's lr
# (official min_lr 1e-6 at lr 4e-4; a ratio, so that every layer group
# ends at the same fraction of its own lr); validation every epoch.
# The configs set auto_scale_lr.base_batch_size to their total batch.
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
