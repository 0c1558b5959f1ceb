# SLaK-T, ImageNet-1K, 224x224, 300 epochs: 82.5 top-1, 30M params,
# 5.0 GFLOPs (SLaK paper / official README; 40%-sparse model).
# The baseline PeLK compares with: stripe kernels (51x5 + 5x51 + 5x5,
# kernels 51-49-47-13, all channels convolved, no positional embedding) in
# the same 1.3x-wide ConvNeXt; recipe and sparsity settings exactly
# those of the PeLK config it inherits
# (pelk-t_32xb128-300e_in1k.py),
# which are SLaK's own.
_base_ = './pelk-t_32xb128-300e_in1k.py'

model = dict(backbone=dict(arch='slak-t'))
