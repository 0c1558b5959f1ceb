# PeLK-S, ImageNet-1K, 224x224, 300 epochs: 83.9 top-1, 50M params,
# 10.7 GFLOPs (PeLK paper Table 4; 40%-sparse model).
# Recipe: pelk-t_32xb128-300e_in1k.py with SLaK-S's settings (official SLaK
# command): 3-3-27-3 blocks, drop path 0.4, sparsity updates every 100
# iterations at prune rate 0.3 (cosine-decayed). Total batch 4096 as 64 GPUs
# x 64 images (SLaK-S: 8 GPUs x 64 x update_freq 8).
_base_ = './pelk-t_32xb128-300e_in1k.py'

model = dict(backbone=dict(arch='pelk-s', drop_path_rate=0.4))

# 64 GPUs x 64 images = 4096.
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader

# Sparsity and EMA (update_buffers: see pelk-t_32xb128-300e_in1k.py).
custom_hooks = [
    dict(type='lkmm.DynamicSparsityHook', sparsity=0.4, init='snip',
         update_interval=100, prune_rate=0.3, rate_decay='cosine'),
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
