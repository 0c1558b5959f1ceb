# ConvNeXt-T with 31-29-27-13 kernels and a 5x5 re-parameterization branch
# (RepLKNet paper, appendix Table 11), ImageNet-1K, 120 epochs: RepLKNet's
# 120-epoch recipe (../replknet/replknet-31_32xb64-120e_in1k.py), drop path
# 0.3, no EMA, no sparsity (configs/pelk/README.md, "Recipes").
_base_ = [
    '../_base_/models/large_kernel_convnext.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs2048_adamw_120e.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(arch='convnext-31-t', drop_path_rate=0.3),
    head=dict(in_channels=768))

# 32 GPUs x 64 images.
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
