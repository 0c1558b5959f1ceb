# RepLKNet-31L (ImageNet-22K pre-training) + UperNet on ADE20K, 640x640 crops,
# 160k iterations: paper Table 8, 52.4 mIoU single-scale, 52.7 multi-scale (the
# _ms config). The 31B-22K config with the 31L backbone and drop path 0.3, as
# the official release (configs/replknet/README.md, "ADE20K"). Set the 22K
# RepLKNet-31L: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_replknet-31B_in22k-pre_8xb2-160k_ade20k-640x640.py'

model = dict(
    backbone=dict(arch='31L', drop_path_rate=0.3),
    decode_head=dict(in_channels=[192, 384, 768, 1536]),
    auxiliary_head=dict(in_channels=768))
