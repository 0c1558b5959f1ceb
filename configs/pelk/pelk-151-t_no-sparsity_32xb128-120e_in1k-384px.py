# PeLK ablation, Table 7 (kernel size configuration): PeLK-151 (151-89-87-13)
# at 384x384, 82.8 top-1. The paper trains these "in a 120 epoch schedule"
# at 384 and mentions no 224 pre-training, so this is
# pelk-151-t_no-sparsity_32xb128-120e_in1k.py trained from scratch at
# 384x384: the 384 recipe of pelk-t_no-sparsity_32xb128-120e_in1k-384px.py
# (its pipelines) with this model's kernels, as the 224 configs differ.
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k-384px.py'

model = dict(
    backbone=dict(arch=dict(kernel_sizes=[151, 89, 87, 13], centre_size=9)))
