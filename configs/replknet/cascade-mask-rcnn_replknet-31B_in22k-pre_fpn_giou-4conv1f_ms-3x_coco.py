# RepLKNet-31B (ImageNet-22K pre-training) + Cascade Mask R-CNN on COCO, 3x.
# Paper "Scaling Up Your Kernels to 31x31", Table 9 (and the official README):
# 53.0 AP box, 46.0 AP mask on val2017; 137M params, 965 GFLOPs at 1280x800
# (inference model, mmdet 2.x FLOP convention; see the 1K config).
#
# Recipe: that of the ImageNet-1K config this file inherits (4conv1fc GIoU
# heads with SyncBN, 36 epochs, AdamW 4e-4, multi-scale crop training), with
# drop path 0.4 instead of 0.6, as the official release
# (RepLKNet-31B_22Kpretrain_cascade_mask_rcnn_3x_coco.py). The paper does not
# give per-model drop path rates.
# Starts from the ImageNet-22K RepLKNet-31B checkpoint (lkmm format): set it
# with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'  # noqa: E501

model = dict(backbone=dict(drop_path_rate=0.4))
