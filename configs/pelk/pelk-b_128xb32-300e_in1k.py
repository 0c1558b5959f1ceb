# PeLK-B, ImageNet-1K, 224x224, 300 epochs: 84.2 top-1, 89M params,
# 18.3 GFLOPs (PeLK paper Table 4; 40%-sparse model).
# Recipe: pelk-t_32xb128-300e_in1k.py with SLaK-B's settings (official SLaK
# command): 3-3-27-3 blocks at widths int(1.3 * [128, 256, 512, 1024]) =
# 166-332-665-1331, drop path 0.5, sparsity updates every 100 iterations at
# prune rate 0.3 (cosine-decayed; SLaK-S's too, hence inherited from
# pelk-s_64xb64-300e_in1k.py). Total batch 4096 as 128 GPUs x 32 images
# (SLaK-B: 16 GPUs x 32 x update_freq 8).
_base_ = './pelk-s_64xb64-300e_in1k.py'

model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.5),
    head=dict(in_channels=1331))

# 128 GPUs x 32 images = 4096.
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
