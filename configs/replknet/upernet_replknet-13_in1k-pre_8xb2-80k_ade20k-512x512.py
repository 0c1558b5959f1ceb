# Kernel-size study (paper Table 5), kernels 13-13-13-13 with UperNet on
# ADE20K: 48.35 mIoU single-scale after 80k iterations; 106.0M params, 1130
# GFLOPs at 2048x512. Starts from replknet-13_32xb64-120e_in1k.py (83.02
# top-1); set its checkpoint with --cfg-options
# model.backbone.init_cfg.checkpoint=PATH. Recipe:
# upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py.
_base_ = './upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py'

model = dict(backbone=dict(arch='13'))
