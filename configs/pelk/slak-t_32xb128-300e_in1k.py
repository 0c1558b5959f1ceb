# SLaK-T, ImageNet-1K, 224x224, 300 epochs: 82.5 top-1 (SLaK paper /
# official README; 30M params, 5.0 GFLOPs, 40%-sparse).
# PeLK's baseline: stripe kernels in the same 1.3x-wide ConvNeXt, with the
# recipe and sparsity of pelk-t_32xb128-300e_in1k.py, which are SLaK's own.
_base_ = './pelk-t_32xb128-300e_in1k.py'

model = dict(backbone=dict(arch='slak-t'))
