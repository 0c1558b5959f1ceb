# RepLKNet-XL (MegData-73M pre-training) + UperNet on ADE20K, 640x640 crops,
# 160k iterations: paper Table 8, 55.2 mIoU single-scale, 56.0 multi-scale (the
# _ms config). The 31L config with the XL backbone, output norms, drop path
# 0.5, mean = std = 127.5 and, as the release, no lr decay (README, "ADE20K").
# Set the converted MegData-73M RepLKNet-XL classifier (norm3: README):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_replknet-31L_in22k-pre_8xb2-160k_ade20k-640x640.py'

data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        arch='XL',
        drop_path_rate=0.5,
        norm_intermediate_features=True),
    decode_head=dict(in_channels=[256, 512, 1024, 2048]),
    auxiliary_head=dict(in_channels=1024))
