# PeLK-S + UperNet on ADE20K, 512x512 crops, 160k iterations. Paper Table 2:
# 49.7 mIoU single-scale; 84M params, 1077 GFLOPs at 2048x512.
#
# Recipe: upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py (ConvNeXt's
# ADE20K recipe, sliding 512/341 test) with ConvNeXt-S's settings: drop path
# 0.3 and stage-wise decay 0.9 with num_layers=12 (lr x 0.9^13 for the stem
# and downsampling layers, 0.9^12 .. 0.9^9 for stages 0..3, 1 for the
# heads), as mmseg's convnext-small_upernet_8xb2-amp-160k_ade20k-512x512.py.
# Starts from the ImageNet-1K PeLK-S classifier (lkmm format,
# pelk-s_64xb64-300e_in1k.py): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='pelk-s', drop_path_rate=0.3))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
