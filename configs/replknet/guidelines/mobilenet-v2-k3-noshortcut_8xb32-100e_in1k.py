# Guideline 2 (paper Table 2): MobileNetV2 without identity shortcuts,
# every depth-wise conv 3x3. Paper: 68.67 top-1.
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k3-noshortcut'))
