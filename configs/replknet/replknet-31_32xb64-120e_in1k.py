# Kernel-size study (paper Table 5), kernels 31-29-27-13 (the RepLKNet-31B
# architecture): 83.07 top-1 after 120 epochs, 79.3M params, 15.3 GFLOPs.
# The other kernel settings inherit this file and change only the arch:
# replknet-{3,7,13,25}_32xb64-120e_in1k.py.
# Recipe (paper Appendix A): 32 GPUs x 64 images, 120 epochs, AdamW lr 4e-3
# (total batch 2048) with weight decay 0.05 (none on norms and biases),
# 10-epoch warm-up then cosine, RandAugment rand-m9-mstd0.5-inc1, label
# smoothing 0.1, Mixup 0.8, CutMix 1.0, Random Erasing 0.25, drop path 0.3.
_base_ = [
    '../_base_/models/replknet-31B_in1k.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(backbone=dict(arch='31', drop_path_rate=0.3))

# 32 GPUs x 64 images.
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader

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
