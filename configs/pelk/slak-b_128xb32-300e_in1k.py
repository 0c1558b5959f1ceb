# SLaK-B, ImageNet-1K, 224x224, 300 epochs: 84.0 top-1 (SLaK paper /
# official README, PeLK Table 4; 95M params, 17.1 GFLOPs, 40%-sparse).
# PeLK's baseline: stripe kernels in the same 1.3x-wide ConvNeXt, with the
# recipe and sparsity of pelk-b_128xb32-300e_in1k.py, which are SLaK's own.
_base_ = './pelk-b_128xb32-300e_in1k.py'

model = dict(backbone=dict(arch='slak-b'))
