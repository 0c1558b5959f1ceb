# Paper Table 1, row 5: ParCNetV2-10M without the uniform local-global
# block (73.5 top-1, 9.6M params; lkmm 9.62M): ParCNetV1's non-uniform
# layout, the shallow two stages mix with the depth-wise conv only, the
# deep two keep the local-global conv (the authors' parcnet_v1_no_uniform
# ablation model). Everything else: the row-2 config,
# parcnetv2-10m_8xb128-100e_in1k.py.
_base_ = './parcnetv2-10m_8xb128-100e_in1k.py'

model = dict(backbone=dict(uniform=False))
