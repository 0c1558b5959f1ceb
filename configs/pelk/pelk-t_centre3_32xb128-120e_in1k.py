# PeLK ablation, Table 6 (central fine-grained kernel size): 3x3 centre in
# every stage, 81.1 top-1 (120 epochs, no sparsity, positional embedding).
# pelk-t_no-sparsity_32xb128-120e_in1k.py (the 5x5 row, 81.6) with another
# centre_size only; grids: configs/pelk/README.md.
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k.py'

model = dict(backbone=dict(arch=dict(centre_size=3)))
