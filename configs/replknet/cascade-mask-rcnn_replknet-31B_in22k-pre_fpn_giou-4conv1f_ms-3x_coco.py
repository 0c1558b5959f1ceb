# RepLKNet-31B (ImageNet-22K pre-training) + Cascade Mask R-CNN on COCO, 3x:
# paper Table 9, 53.0 box AP / 46.0 mask AP (137M params, 965 GFLOPs). The 1K
# config's recipe with drop path 0.4, as the official release. Set the 22K
# RepLKNet-31B (lkmm format):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'  # noqa: E501

model = dict(backbone=dict(drop_path_rate=0.4))
