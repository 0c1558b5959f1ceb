# PeLK-B + Cascade Mask R-CNN on COCO, 3x. Paper Table 3: 52.9 AP box,
# 45.9 AP mask; 147M params, 1028 GFLOPs at 1280x800.
#
# Recipe: cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py
# (ConvNeXt's) with ConvNeXt-B's drop path 0.7 and layer-wise decay 0.7 over
# 12 layers (the decay rate as the recipe; ConvNeXt's own B config
# used 0.8). Widths 166-332-665-1331 (ConvNeXt-B x1.3).
# Starts from the ImageNet-1K PeLK-B classifier (lkmm format,
# pelk-b_128xb32-300e_in1k.py): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'

model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.7),
    neck=dict(in_channels=[166, 332, 665, 1331]))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
