# SLaK-S, ImageNet-1K, 224x224, 300 epochs: 83.8 top-1 (SLaK paper /
# official README; 55M params, 9.8 GFLOPs, 40%-sparse).
# PeLK's baseline: stripe kernels in the same 1.3x-wide ConvNeXt, with the
# recipe and sparsity of pelk-s_64xb64-300e_in1k.py, which are SLaK's own.
_base_ = './pelk-s_64xb64-300e_in1k.py'

model = dict(backbone=dict(arch='slak-s'))
