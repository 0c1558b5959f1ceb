# Kernel-size study (paper Table 5), kernels 31-29-27-13 (RepLKNet-31B's):
# 83.07 top-1 after 120 epochs (79.3M params, 15.3 GFLOPs). The other kernel
# sizes (replknet-{3,7,13,25}_32xb64-120e_in1k.py) inherit this file and change
# only the arch. Recipe (paper Appendix A): configs/replknet/README.md.
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
