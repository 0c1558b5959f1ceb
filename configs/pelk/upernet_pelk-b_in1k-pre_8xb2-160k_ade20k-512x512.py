# PeLK-B + UperNet on ADE20K, 512x512 crops, 160k iterations. Paper Table 2:
# 50.4 mIoU single-scale; 126M params, 1237 GFLOPs at 2048x512.
#
# Recipe: upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py (ConvNeXt's
# ADE20K recipe, sliding 512/341 test) with ConvNeXt-B's settings: drop path
# 0.4 and stage-wise decay 0.9 with num_layers=12, as mmseg's
# convnext-base_upernet_8xb2-amp-160k_ade20k-512x512.py. Widths
# 166-332-665-1331 (ConvNeXt-B x1.3).
# Starts from the ImageNet-1K PeLK-B classifier (lkmm format,
# pelk-b_128xb32-300e_in1k.py): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py'

channels = [166, 332, 665, 1331]
model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.4),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
