# RepLKNet-31L (ImageNet-22K pre-training) + Cascade Mask R-CNN on COCO, 3x:
# paper Table 9, 53.9 box AP / 46.5 mask AP (229M params, 1321 GFLOPs). The 31B
# config's recipe with the 31L backbone and drop path 0.7, as the official
# release. Set the 22K RepLKNet-31L (lkmm format):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'  # noqa: E501

model = dict(
    backbone=dict(arch='31L', drop_path_rate=0.7),
    neck=dict(in_channels=[192, 384, 768, 1536]))
