# PeLK-B, ImageNet-1K, 224x224, 300 epochs: PeLK Table 4, 84.2 top-1 (89M
# params, 18.3 GFLOPs; 40%-sparse model). PeLK-S's recipe with SLaK-B's
# settings (drop path 0.5) at 128 GPUs x 32 images (configs/pelk/README.md).
_base_ = './pelk-s_64xb64-300e_in1k.py'

model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.5),
    head=dict(in_channels=1331))

# 128 GPUs x 32 images = 4096.
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
