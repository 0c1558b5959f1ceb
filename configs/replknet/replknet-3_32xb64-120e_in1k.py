# Kernel-size study (paper Table 5), kernels 3-3-3-3: 82.11 top-1 after 120
# epochs, 71.8M params, 12.9 GFLOPs. Recipe: replknet-31_32xb64-120e_in1k.py.
_base_ = './replknet-31_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='3'))
