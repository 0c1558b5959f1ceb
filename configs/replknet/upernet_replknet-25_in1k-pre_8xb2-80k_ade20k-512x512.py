# Kernel-size study (paper Table 5), kernels 25-25-25-13 with UperNet on
# ADE20K: 48.68 mIoU single-scale after 80k iterations; 110.6M params, 1159
# GFLOPs at 2048x512. Starts from replknet-25_32xb64-120e_in1k.py (83.00
# top-1); set its checkpoint with --cfg-options
# model.backbone.init_cfg.checkpoint=PATH. Recipe:
# upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py.
_base_ = './upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py'

model = dict(backbone=dict(arch='25'))
