# PeLK-B + UperNet on ADE20K, 512x512 crops, 160k iterations: PeLK Table 2,
# 50.4 mIoU single-scale (126M params, 1237 GFLOPs). The PeLK-T recipe with
# ConvNeXt-B's drop path 0.4 and num_layers=12 (configs/pelk/README.md). Set
# the PeLK-B classifier (pelk-b_128xb32-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py'

channels = [166, 332, 665, 1331]
model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.4),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
