# PeLK Table 1 "RepLK-51, w/o sparsity": dense 51x51 kernels (+ 5x5
# branch, 51-49-47-13), ConvNeXt-T widths, 120 epochs, no dynamic sparsity:
# 81.6 top-1. Differs from slak-t_no-sparsity-w1x_32xb128-120e_in1k.py in
# the kernel form only (see there for the width).
_base_ = './slak-t_no-sparsity-w1x_32xb128-120e_in1k.py'

model = dict(backbone=dict(arch=dict(form='dense')))
