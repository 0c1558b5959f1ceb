# RepLKNet-31L (ImageNet-22K pre-training) + UperNet on ADE20K, 640x640
# crops, 160k iterations. Paper Table 8: 52.4 mIoU single-scale, 52.7
# multi-scale; 207M params, 2404 GFLOPs at 2560x640.
#
# Recipe: the official release
# (segmentation/configs/RepLKNet-31L_22Kpretrain_upernet_160k_ade20k_640.py)
# is the 31B-22K recipe (upernet_replknet-31B_in22k-pre_8xb2-160k_ade20k-
# 640x640.py: 640 crops of 2048x512-scaled images, AdamW lr 2e-4, sliding
# 640/426 test) with the wider 31L backbone (channels 192-384-768-1536) and
# drop path 0.3.
#
# Schedule: 8 GPUs x 2 images x 160k iterations. The release trained 64 GPUs
# x 1 image x 80k iterations (800 warm-up iterations; one image per GPU for
# memory), 5.12M images, twice what this config sees, at the same lr 2e-4
# (not rescaled here); see the 31B-22K config for how to match it.
#
# Starts from the ImageNet-22K RepLKNet-31L (lkmm format: the official "22K
# pretrained model" through tools/model_converters/replknet_to_lkmm.py, or
# the output of replknet-31L_128xb32-90e_in21k.py): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
#
# Multi-scale + flip test:
# upernet_replknet-31L_in22k-pre_8xb2-160k_ade20k-640x640_ms.py
_base_ = './upernet_replknet-31B_in22k-pre_8xb2-160k_ade20k-640x640.py'

model = dict(
    backbone=dict(arch='31L', drop_path_rate=0.3),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
