# ConvNeXt-T with 31x31 kernels (RepLKNet paper, appendix "Large kernel
# design is a generic design element that works with ConvNeXt", Table 11):
# ConvNeXt-T (3-3-9-3 blocks, widths 96-192-384-768) with the 7x7
# depth-wise kernels replaced by 31-29-27-13 (+ a 5x5 re-parameterization
# branch, as every RepLKNet large kernel), ImageNet-1K, 120 epochs.
# "The training configurations on ImageNet (120 epochs) ... are identical
# to the results shown in Sec. 4.2", i.e. RepLKNet's 120-epoch recipe
# (Appendix A; ../replknet/replknet-31_32xb64-120e_in1k.py): 32 GPUs x 64
# images, AdamW lr 4e-3 at total batch 2048, weight decay 0.05 (none on
# norms, biases and other 1-D tensors), 10-epoch warm-up then cosine to
# 1e-6, RandAugment rand-m9-mstd0.5-inc1, label smoothing 0.1, Mixup 0.8,
# CutMix 1.0, Random Erasing 0.25, drop path 0.3 (that recipe's; ConvNeXt's
# own 300-epoch rates are 0.1 for T and 0.4 for S), no EMA, no sparsity.
# The same bases as that config: the schedule is
# ../_base_/schedules/imagenet_bs2048_adamw_120e.py.
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
