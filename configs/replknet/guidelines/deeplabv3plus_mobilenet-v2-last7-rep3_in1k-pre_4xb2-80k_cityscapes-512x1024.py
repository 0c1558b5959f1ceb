# Guideline 5 (paper Table 4), DeepLabv3+ on Cityscapes: the last stage's
# depth-wise convs 7x7 with the 3x3 re-parameterization, the others 3x3.
# Paper: 74.30 mIoU.
# Starting point: mobilenet-v2-last7-rep3_8xb32-100e_in1k.py (set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH).
# Recipe: the base below (deeplabv3plus_mobilenet-v2-k3_...).
_base_ = './deeplabv3plus_mobilenet-v2-k3_in1k-pre_4xb2-80k_cityscapes-512x1024.py'  # noqa: E501

model = dict(backbone=dict(arch='last7-rep3'))
