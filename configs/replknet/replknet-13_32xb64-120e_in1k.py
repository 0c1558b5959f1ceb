# Kernel-size study (paper Table 5), kernels 13-13-13-13: 83.02 top-1 after 120
# epochs, 73.7M params, 13.4 GFLOPs. Recipe: replknet-31_32xb64-120e_in1k.py.
_base_ = './replknet-31_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='13'))
