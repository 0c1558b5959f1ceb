# PeLK-B-101 (kernels 101-69-67-13, 7x7 fine-grained centre) + Cascade Mask
# R-CNN on COCO, 3x. Paper Table 3: 53.1 AP box, 46.1 AP mask; 147M params,
# 1127 GFLOPs at 1280x800.
#
# Recipe: cascade-mask-rcnn_pelk-b_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py
# with the 101 kernels. Starts from the ImageNet-1K PeLK-B-101 classifier
# (lkmm format, pelk-b-101_128xb32-300e_in1k.py): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './cascade-mask-rcnn_pelk-b_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'

model = dict(backbone=dict(arch='pelk-b-101'))
