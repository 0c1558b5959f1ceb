# Guideline 3 (paper Table 3): every depth-wise conv 9x9, no
# re-parameterization. Paper: 72.67 top-1.
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k9'))
