# Paper Table 1, row 4: ParCNetV2-10M without the bifurcate gate units
# (72.8 top-1, 9.7M params; lkmm 9.60M): the same layers, no
# multiplicative gates (the authors' parcnet_v1_no_glu ablation model).
# Everything else: the row-2 config, parcnetv2-10m_8xb128-100e_in1k.py.
_base_ = './parcnetv2-10m_8xb128-100e_in1k.py'

model = dict(backbone=dict(gated=False))
