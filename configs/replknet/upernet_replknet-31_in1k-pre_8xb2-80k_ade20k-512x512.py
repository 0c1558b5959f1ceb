# Kernel-size study (paper Table 5), kernels 31-29-27-13 with UperNet on
# ADE20K: 49.17 mIoU single-scale after 80k iterations; 111.7M params,
# 1170 GFLOPs at 2048x512. The ImageNet column of the same row is
# replknet-31_32xb64-120e_in1k.py (83.07 top-1 after 120 epochs), whose
# checkpoint this config starts from.
#
# Recipe: upernet_ade20k.py (RepLKNet-31B, AdamW lr 2e-4, 8 GPUs x 2
# images, 512x512 crops, 1500-iteration warm-up then poly, whole-image
# test) on the 80k schedule. The paper gives nothing else for this study
# (no released config); drop path stays at the release's UperNet default
# 0.5. The other kernel sizes (upernet_replknet-{3,7,13,25}_...) inherit
# this file and change only the arch.
_base_ = './upernet_ade20k.py'

model = dict(
    backbone=dict(
        arch='31',
        # The 120-epoch kernel-study checkpoint (lkmm format) of
        # replknet-31_32xb64-120e_in1k.py (not released officially): set it
        # with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
        # Training refuses to start without it.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')))

max_iters = 80000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
