# RepLKNet-31B pre-trained on ImageNet-22K, fine-tuned on ImageNet-1K at
# 224x224: 85.2 top-1 (paper Table 6), 79M params, 15.3 GFLOPs.
# Recipe (paper Appendix A + official command): 16 GPUs x 32 images, 30
# epochs, drop path 0.2, AdamW lr 4e-4, weight decay 1e-8, layer-wise lr decay
# 0.7, 1-epoch warm-up then cosine, model EMA, same RandAugment / Random
# Erasing, no Mixup/CutMix. Only the backbone comes from the 22K model (the
# 21841-class head is replaced):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH_TO_22K_CHECKPOINT
_base_ = './replknet-31_32xb64-120e_in1k.py'

model = dict(
    backbone=dict(
        arch='31B',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    train_cfg=None)  # no Mixup/CutMix

# 16 GPUs x 32 images.
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader

optim_wrapper = dict(
    constructor='lkmm.LayerDecayOptimWrapperConstructor',
    # The constructor exempts norms, biases and other 1-D tensors from
    # weight decay itself.
    optimizer=dict(lr=4e-4, weight_decay=1e-8),
    paramwise_cfg=dict(
        _delete_=True, decay_rate=0.7, decay_type='layer_wise'))

warmup_epochs = 1
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    # Ratio, not absolute: with layer-wise decay every group ends at the same
    # fraction of its own lr (official min_lr 1e-6 at lr 4e-4).
    dict(type='CosineAnnealingLR', eta_min_ratio=2.5e-3, by_epoch=True,
         begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL'),
]
auto_scale_lr = dict(base_batch_size=512)
