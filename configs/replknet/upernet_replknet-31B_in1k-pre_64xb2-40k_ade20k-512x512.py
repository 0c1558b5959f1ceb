# RepLKNet-31B + UperNet on ADE20K, 512x512, trained as the official release
# did (paper Table 8 row 1: 49.9 mIoU single-scale, 50.6 with tools/test.py
# --tta): 64 GPUs x 2 images x 40k iterations, 400 warm-up iterations, lr 2e-4;
# otherwise upernet_ade20k.py. On another number of GPUs, --auto-scale-lr
# rescales the lr from 128 images per iteration.
_base_ = './upernet_ade20k.py'

# 64 GPUs x 2 images (2 per GPU, as inherited).
max_iters = 40000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=400),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=400,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
auto_scale_lr = dict(enable=False, base_batch_size=128)
