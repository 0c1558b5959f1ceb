# Guideline 3 (paper Table 3): every depth-wise conv 9x9 with a parallel
# 3x3 conv-BN, merged into the 9x9 kernel after training
# (model.backbone.switch_to_deploy(), tools/deploy/reparameterize.py).
# Paper: 73.09 top-1.
# Recipe: mobilenet-v2-k3_8xb32-100e_in1k.py.
_base_ = './mobilenet-v2-k3_8xb32-100e_in1k.py'

model = dict(backbone=dict(arch='k9-rep3'))
