# PeLK Table 1 "RepLK-51, w/ sparsity": dense 51x51 kernels (+ 5x5
# re-parameterization branch, kernels 51-49-47-13) in the SLaK-T framework
# (1.3x width, 40% dynamic sparsity), 120 epochs: 81.7 top-1.
# Differs from slak-t_32xb128-120e_in1k.py in the kernel form only
# (arch 'dense-51-t' = 'slak-t' with form 'dense').
_base_ = './slak-t_32xb128-120e_in1k.py'

model = dict(backbone=dict(arch='dense-51-t'))
