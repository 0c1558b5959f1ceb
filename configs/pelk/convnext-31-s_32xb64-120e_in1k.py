# ConvNeXt-S with 31-29-27-13 kernels (RepLKNet paper, appendix Table 11),
# ImageNet-1K, 120 epochs: convnext-31-t_32xb64-120e_in1k.py with the S arch
# (the appendix trains T and S alike; configs/pelk/README.md).
_base_ = './convnext-31-t_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='convnext-31-s'))
