# PeLK-B + Cascade Mask R-CNN on COCO, 3x: PeLK Table 3, 52.9 box AP / 45.9
# mask AP (147M params, 1028 GFLOPs). The PeLK-T recipe with drop path 0.7 and
# layer-wise decay 0.7 over 12 layers (configs/pelk/README.md, "COCO"). Set the
# PeLK-B classifier (pelk-b_128xb32-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'

model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.7),
    neck=dict(in_channels=[166, 332, 665, 1331]))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
