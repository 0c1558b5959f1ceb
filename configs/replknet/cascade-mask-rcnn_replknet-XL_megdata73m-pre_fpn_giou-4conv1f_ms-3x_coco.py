# RepLKNet-XL (MegData-73M pre-training) + Cascade Mask R-CNN on COCO, 3x.
# Paper "Scaling Up Your Kernels to 31x31", Table 9 (and the official README):
# 55.5 AP box, 48.0 AP mask on val2017; 392M params, 1958 GFLOPs at 1280x800
# (inference model, mmdet 2.x FLOP convention; see the 31B 1K config).
#
# Recipe: that of the RepLKNet-31B config this file inherits (4conv1fc GIoU
# heads with SyncBN, 36 epochs, AdamW 4e-4, multi-scale crop training), with,
# as the official release (RepLKNet-XL_MegData73Mpretrain_cascade_mask_rcnn_
# 3x_coco.py):
# * the XL backbone (channels 256-512-1024-2048, kernels 27-27-27-13, no
#   small re-parameterization kernel, depth-wise width 1.5x) with a norm
#   layer on every stage output fed to the FPN (norm_intermediate_features),
#   drop path 0.5;
# * mean = std = 127.5 per channel, as the MegData-73M pre-training and the
#   ImageNet fine-tune (official README);
# * 4 images per GPU (1 for 31B/31L) at the same lr 4e-4; the GPU count is
#   not published.
# Release vs this config: the release set the 127.5 normalization only in
# its train and test pipelines, so its validation during training kept the
# ImageNet mean/std; here normalization lives in the data preprocessor and
# is the same for training, validation and test.
# Starts from the MegData-73M RepLKNet-XL checkpoint (lkmm format): set it
# with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
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
