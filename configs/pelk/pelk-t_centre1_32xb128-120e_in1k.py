# PeLK ablation, Table 6 (central fine-grained kernel size): 1x1
# fine-grained centre, 80.8 top-1 (120 epochs, no sparsity, with the
# kernel-wise positional embedding). K=51 sharing grid [11, 8, 4, 2, 1]
# (half, outer -> centre; centre area 0.04% of the kernel); every stage
# uses the 1x1 centre. The 5x5 row (81.6) is
# pelk-t_no-sparsity_32xb128-120e_in1k.py, which this file changes in
# centre_size only.
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k.py'

model = dict(backbone=dict(arch=dict(centre_size=1)))
