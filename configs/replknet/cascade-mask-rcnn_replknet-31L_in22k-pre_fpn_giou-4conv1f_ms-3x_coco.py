# RepLKNet-31L (ImageNet-22K pre-training) + Cascade Mask R-CNN on COCO, 3x.
# Paper "Scaling Up Your Kernels to 31x31", Table 9 (and the official README):
# 53.9 AP box, 46.5 AP mask on val2017; 229M params, 1321 GFLOPs at 1280x800
# (inference model, mmdet 2.x FLOP convention; see the 31B 1K config).
#
# Recipe: that of the RepLKNet-31B config this file inherits (4conv1fc GIoU
# heads with SyncBN, 36 epochs, AdamW 4e-4, multi-scale crop training, 1
# image per GPU), with the 31L backbone (channels 192-384-768-1536) and drop
# path 0.7, as the official release
# (RepLKNet-31L_cascade_mask_rcnn_3x_coco.py). The paper does not give
# per-model drop path rates.
# Starts from the ImageNet-22K RepLKNet-31L checkpoint (lkmm format): set it
# with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'  # noqa: E501

model = dict(
    backbone=dict(arch='31L', drop_path_rate=0.7),
    neck=dict(in_channels=[192, 384, 768, 1536]))
