# Kernel-size study (paper Table 5), kernels 3-3-3-3 with UperNet on ADE20K:
# 46.05 mIoU single-scale after 80k iterations; 104.1M params, 1119 GFLOPs at
# 2048x512. Starts from replknet-3_32xb64-120e_in1k.py (82.11 top-1); set its
# checkpoint with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# Recipe: upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py.
_base_ = './upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py'

model = dict(backbone=dict(arch='3'))
