# PeLK-S + Cascade Mask R-CNN on COCO, 3x. Paper Table 3: 52.2 AP box,
# 45.3 AP mask; 108M params, 874 GFLOPs at 1280x800.
#
# Recipe: cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py
# (ConvNeXt's) with ConvNeXt-S's drop path 0.6 and layer-wise decay 0.7 over
# 12 layers (stage 2's 27 blocks in 9 groups), as mmdet's
# cascade-mask-rcnn_convnext-s-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py.
# Starts from the ImageNet-1K PeLK-S classifier (lkmm format,
# pelk-s_64xb64-300e_in1k.py): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'

model = dict(backbone=dict(arch='pelk-s', drop_path_rate=0.6))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
