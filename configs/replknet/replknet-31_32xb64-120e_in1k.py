# Kernel-size study (paper Table 5), kernels 31-29-27-13 (the RepLKNet-31B
# architecture): 83.07 top-1 after 120 epochs, 79.3M params, 15.3 GFLOPs.
# The other kernel settings inherit this file and change only the arch:
# replknet-{3,7,13,25}_32xb64-120e_in1k.py.
# Recipe (paper Appendix A): 32 GPUs x 64 images, 120 epochs, AdamW lr 4e-3
# (total batch 2048) with weight decay 0.05 (none on norms and biases),
# 10-epoch warm-up then cosine, RandAugment rand-m9-mstd0.5-inc1, label
# smoothing 0.1, Mixup 0.8, CutMix 1.0, Random Erasing 0.25, drop path 0.3.
# The schedule is ../_base_/schedules/imagenet_bs2048_adamw_120e.py.
_base_ = [
    '../_base_/models/replknet-31B_in1k.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs2048_adamw_120e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(backbone=dict(arch='31', drop_path_rate=0.3))

# 32 GPUs x 64 images.
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
