# Guideline 2 (paper Table 2): every depth-wise conv 13x13 without identity
# shortcuts. Paper: 53.98 top-1.
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k13-noshortcut'))
