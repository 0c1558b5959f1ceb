# Kernel-size study (paper Table 5), kernels 7-7-7-7: 82.73 top-1 after 120
# epochs, 72.2M params, 13.1 GFLOPs. Recipe: replknet-31_32xb64-120e_in1k.py.
_base_ = './replknet-31_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='7'))
