# Kernel-size study (paper Table 5), kernels 31-29-27-13 + UperNet on ADE20K:
# 49.17 mIoU single-scale after 80k iterations; upernet_ade20k.py's recipe on
# the 80k schedule. upernet_replknet-{3,7,13,25}_... inherit this file and
# change only the arch. Set the replknet-31_32xb64-120e_in1k.py classifier:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_replknet-31B.py',
    '../_base_/datasets/ade20k_tta-2048x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/schedule_adamw_warmup-poly_80k.py',
]

model = dict(backbone=dict(arch='31'))

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)
