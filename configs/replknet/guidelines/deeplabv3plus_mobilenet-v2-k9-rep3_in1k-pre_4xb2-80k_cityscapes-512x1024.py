# Guideline 3/4 (paper Table 3), DeepLabv3+ on Cityscapes: every depth-wise
# conv 9x9 with the parallel 3x3 (deployed after training). Paper: 76.30 mIoU.
# Starting point: mobilenet-v2-k9-rep3_8xb32-100e_in1k.py (set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH).
# Recipe: the base below (deeplabv3plus_mobilenet-v2-k3_...).
_base_ = './deeplabv3plus_mobilenet-v2-k3_in1k-pre_4xb2-80k_cityscapes-512x1024.py'  # noqa: E501

model = dict(backbone=dict(arch='k9-rep3'))
