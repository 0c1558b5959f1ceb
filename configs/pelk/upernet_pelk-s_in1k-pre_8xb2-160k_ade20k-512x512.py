# PeLK-S + UperNet on ADE20K, 512x512 crops, 160k iterations: PeLK Table 2,
# 49.7 mIoU single-scale (84M params, 1077 GFLOPs). The PeLK-T recipe with
# ConvNeXt-S's drop path 0.3 and num_layers=12 (configs/pelk/README.md). Set
# the PeLK-S classifier (pelk-s_64xb64-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='pelk-s', drop_path_rate=0.3))

optim_wrapper = dict(paramwise_cfg=dict(num_layers=12))
