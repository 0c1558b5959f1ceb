# The MobileNetV2 schedule of RepLKNet's guidelines (arXiv Appendix A): SGD
# momentum 0.9, lr 0.1 at total batch 256, 5-epoch warm-up, cosine to 0 at 100
# epochs; mmpretrain's imagenet_bs256_coslr.py with a warm-up. Assumed:
# weight decay 4e-5 (lost in the paper's text) and the warm-up start, 1e-3 x
# lr (configs/replknet/guidelines/README.md). --auto-scale-lr: from 256.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py'

optim_wrapper = dict(optimizer=dict(weight_decay=4e-5))

warmup_epochs = 5
max_epochs = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0., by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
