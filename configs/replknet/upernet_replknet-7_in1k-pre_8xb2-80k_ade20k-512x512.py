# Kernel-size study (paper Table 5), kernels 7-7-7-7 with UperNet on ADE20K:
# 48.05 mIoU single-scale after 80k iterations; 104.6M params, 1123 GFLOPs at
# 2048x512. Starts from replknet-7_32xb64-120e_in1k.py (82.73 top-1); set its
# checkpoint with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# Recipe: upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py.
_base_ = './upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py'

model = dict(backbone=dict(arch='7'))
