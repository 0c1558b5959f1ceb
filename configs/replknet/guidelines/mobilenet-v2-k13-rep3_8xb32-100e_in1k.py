# Guideline 3 (paper Table 3): every depth-wise conv 13x13 with a parallel
# 3x3 conv-BN, deployed after training. Paper: 73.24 top-1.
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k13-rep3'))
