# PeLK-T, ImageNet-1K, 224x224, 300 epochs: 82.6 top-1, 29M params,
# 5.6 GFLOPs (PeLK paper Table 4; both counted on the 40%-sparse model).
# Architecture (paper Sec. 4.4): ConvNeXt-T layout (3-3-9-3 blocks) at 1.3x
# width, peripheral convolution with kernels 51-49-47-13 and a 5x5
# fine-grained centre, kernel-wise positional embedding per stage, only 3/8
# of the channels convolved, a 5x5 re-parameterization branch.
#
# Recipe: PeLK trains "following SLaK" (Sec. 3, 5.3; the 300-epoch schedule
# extends the 120-epoch one), i.e. the official SLaK command for SLaK-T
# (VITA-Group/SLaK README), which keeps ConvNeXt's main.py defaults:
# * total batch 4096 (SLaK: 4 GPUs x 128 x update_freq 8; here 32 GPUs x
#   128), AdamW lr 4e-3, betas (0.9, 0.999), weight decay 0.05 (none on
#   norms, biases and other 1-D tensors such as LayerScale), 20-epoch linear
#   warm-up then per-iteration cosine to 1e-6, 300 epochs
#   (../_base_/schedules/imagenet_bs4096_adamw_300e.py);
# * RandAugment rand-m9-mstd0.5-inc1, Random Erasing 0.25, label smoothing
#   0.1, Mixup 0.8 / CutMix 1.0, test at 224 after a 256 short-side resize
#   (crop ratio 0.875) -- mmpretrain's stock imagenet_bs64_swin_224.py;
# * drop path 0.1 (the model base's PeLK-T default; S 0.4, B 0.5), model
#   EMA with decay 0.9999, whose weights are evaluated and saved;
# * dynamic sparsity (SLaK): 40% of every conv / linear weight (head
#   included) kept at zero, SNIP density allocation, magnitude prune and
#   random regrowth every 2000 iterations at rate 0.5 (S/B: 100 and 0.3),
#   the rate cosine-decayed over the whole training.
# With another total batch add --auto-scale-lr (linear from 4096); with
# gradient accumulation (optim_wrapper.accumulative_counts=k) multiply the
# hook's update_interval by k to keep SLaK's optimizer-step interval.
_base_ = [
    '../_base_/models/large_kernel_convnext.py',
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    '../_base_/schedules/imagenet_bs4096_adamw_300e.py',
    'mmpretrain::_base_/default_runtime.py',
]

# The model base's defaults are PeLK-T's (arch 'pelk-t', drop path 0.1, head
# on 998 channels).

# 32 GPUs x 128 images = 4096.
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader

# The sparsity hook comes first: at equal priority hooks run in this order,
# so every iteration the EMA averages weights that are already masked.
# update_buffers=True: SLaK's EMA (timm's ModelEma in ConvNeXt's main.py)
# averages the buffers too (the BN statistics of the kernel branches);
# mmengine's EMAHook would copy them from the live model.
custom_hooks = [
    dict(type='lkmm.DynamicSparsityHook', sparsity=0.4, init='snip',
         update_interval=2000, prune_rate=0.5, rate_decay='cosine'),
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
