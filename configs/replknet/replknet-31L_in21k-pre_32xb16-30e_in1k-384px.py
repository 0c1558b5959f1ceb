# RepLKNet-31L pre-trained on ImageNet-22K, fine-tuned on ImageNet-1K at
# 384x384: 86.6 top-1 (paper Table 6), 172M params, 96.0 GFLOPs. Recipe as
# replknet-31B_in21k-pre_32xb16-30e_in1k-384px.py (official command
# identical but --model).
_base_ = './replknet-31B_in21k-pre_32xb16-30e_in1k-384px.py'

model = dict(backbone=dict(arch='31L'), head=dict(in_channels=1536))
