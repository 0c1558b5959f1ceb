# PeLK-B-101 (kernels 101-69-67-13, 7x7 centre) + Cascade Mask R-CNN on COCO,
# 3x: PeLK Table 3, 53.1 box AP / 46.1 mask AP (147M params, 1127 GFLOPs). The
# PeLK-B config with the 101 kernels. Set the PeLK-B-101 classifier
# (pelk-b-101_128xb32-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './cascade-mask-rcnn_pelk-b_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'

model = dict(backbone=dict(arch='pelk-b-101'))
