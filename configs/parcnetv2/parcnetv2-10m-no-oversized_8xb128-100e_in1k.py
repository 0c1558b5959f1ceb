# Paper Table 1, row 3: ParCNetV2-10M without the oversized convolution
# (72.7 top-1, 9.6M params; lkmm 9.54M). The local separable convs run on
# all channels instead of the local / oversized split (as the authors'
# parcnet_v1_no_oversize ablation model). Everything else: the row-2
# config, parcnetv2-10m_8xb128-100e_in1k.py.
_base_ = './parcnetv2-10m_8xb128-100e_in1k.py'

model = dict(backbone=dict(oversized=False))
