# RepLKNet-XL (MegData-73M pre-training) + Cascade Mask R-CNN on COCO, 3x:
# paper Table 9, 55.5 box AP / 48.0 mask AP (392M params, 1958 GFLOPs). The 31B
# recipe with the XL backbone, output norms, drop path 0.5, mean = std = 127.5
# and 4 images per GPU (official release; deviation: README, "COCO").
# Set the MegData-73M RepLKNet-XL (lkmm format):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'  # noqa: E501

model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5],
                           std=[127.5, 127.5, 127.5], bgr_to_rgb=True),
    backbone=dict(
        arch='XL',
        drop_path_rate=0.5,
        norm_intermediate_features=True),
    neck=dict(in_channels=[256, 512, 1024, 2048]))

train_dataloader = dict(batch_size=4)
