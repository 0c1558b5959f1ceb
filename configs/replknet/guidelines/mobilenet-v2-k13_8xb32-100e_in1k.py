# Guidelines 2 and 3 (paper Tables 2 and 3): every depth-wise conv 13x13,
# shortcuts, no re-parameterization. Paper: 72.53 top-1.
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k13'))
