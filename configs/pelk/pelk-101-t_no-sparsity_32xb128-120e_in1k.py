# PeLK ablation, Table 7 (kernel size configuration): PeLK-101 at 224x224,
# 81.6 top-1 (120 epochs, no sparsity, positional embedding on).
# Kernels 101-69-67-13 with the 7x7 fine-grained centre of PeLK-101 (paper
# Sec. 4.4); otherwise pelk-t_no-sparsity_32xb128-120e_in1k.py.
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k.py'

model = dict(
    backbone=dict(arch=dict(kernel_sizes=[101, 69, 67, 13], centre_size=7)))
