# PeLK-T, ImageNet-1K, 224x224, 300 epochs: PeLK Table 4, 82.6 top-1 (29M
# params, 5.6 GFLOPs, both of the 40%-sparse model). SLaK-T's official recipe
# with dynamic sparsity (configs/pelk/README.md, "Recipes"). With another total
# batch add --auto-scale-lr; with gradient accumulation over k steps, multiply
# the sparsity hook's update_interval by k.
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

# Sparsity first, so the EMA averages masked weights; update_buffers=True as
# SLaK's EMA averages the buffers too (README, "Recipes").
custom_hooks = [
    dict(type='lkmm.DynamicSparsityHook', sparsity=0.4, init='snip',
         update_interval=2000, prune_rate=0.5, rate_decay='cosine'),
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
