# Guideline 3 (paper Table 3), DeepLabv3+ on Cityscapes: every depth-wise
# conv 13x13 with the parallel 3x3 (deployed after training). Paper: 76.60
# mIoU.
# Starting point: mobilenet-v2-k13-rep3_8xb32-100e_in1k.py (set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH).
# Recipe: the base below (deeplabv3plus_mobilenet-v2-k3_...).
_base_ = './deeplabv3plus_mobilenet-v2-k3_in1k-pre_4xb2-80k_cityscapes-512x1024.py'  # noqa: E501

model = dict(backbone=dict(arch='k13-rep3'))
