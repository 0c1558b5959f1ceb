# PeLK-S + Cascade Mask R-CNN on COCO, 3x: PeLK Table 3, 52.2 box AP / 45.3
# mask AP (108M params, 874 GFLOPs). The PeLK-T recipe with ConvNeXt-S's drop
# path 0.6 and layer-wise decay over 12 layers (configs/pelk/README.md,
# "COCO"). Set the PeLK-S classifier (pelk-s_64xb64-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'

model = dict(backbone=dict(arch='pelk-s', drop_path_rate=0.6))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
