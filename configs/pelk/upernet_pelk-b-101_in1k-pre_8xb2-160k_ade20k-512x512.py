# PeLK-B-101 (kernels 101-69-67-13, 7x7 centre) + UperNet on ADE20K, 512x512
# crops, 160k iterations: PeLK Table 2, 50.6 mIoU single-scale (126M params,
# 1339 GFLOPs). The PeLK-B config with the 101 kernels. Set the PeLK-B-101
# classifier (pelk-b-101_128xb32-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_pelk-b_in1k-pre_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='pelk-b-101'))
