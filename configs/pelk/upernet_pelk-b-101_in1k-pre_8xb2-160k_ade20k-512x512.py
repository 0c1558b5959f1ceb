# PeLK-B-101 (kernels 101-69-67-13, 7x7 fine-grained centre) + UperNet on
# ADE20K, 512x512 crops, 160k iterations. Paper Table 2: 50.6 mIoU
# single-scale; 126M params, 1339 GFLOPs at 2048x512.
#
# Recipe: upernet_pelk-b_in1k-pre_8xb2-160k_ade20k-512x512.py with the
# 101 kernels. Starts from the ImageNet-1K PeLK-B-101 classifier (lkmm
# format, pelk-b-101_128xb32-300e_in1k.py; the paper does not say whether
# from the 224 or the 384 model): set it with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH.
_base_ = './upernet_pelk-b_in1k-pre_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='pelk-b-101'))
