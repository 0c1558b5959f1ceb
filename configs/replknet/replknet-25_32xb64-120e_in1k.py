# Kernel-size study (paper Table 5), kernels 25-25-25-13: 83.00 top-1 after 120
# epochs, 78.2M params, 14.8 GFLOPs. Recipe: replknet-31_32xb64-120e_in1k.py.
_base_ = './replknet-31_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='25'))
