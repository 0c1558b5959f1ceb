# SLaK-B, ImageNet-1K, 224x224, 300 epochs: 84.0 top-1, 95M params,
# 17.1 GFLOPs (SLaK paper / official README, PeLK Table 4; 40%-sparse).
# The baseline PeLK compares with: stripe kernels (51x5 + 5x51 + 5x5,
# kernels 51-49-47-13, all channels convolved, no positional embedding) in
# the same 1.3x-wide ConvNeXt; recipe and sparsity settings exactly
# those of the PeLK config it inherits
# (pelk-b_128xb32-300e_in1k.py),
# which are SLaK's own.
_base_ = './pelk-b_128xb32-300e_in1k.py'

model = dict(backbone=dict(arch='slak-b'))
