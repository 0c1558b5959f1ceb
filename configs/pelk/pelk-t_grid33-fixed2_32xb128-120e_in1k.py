# PeLK ablation, Table 5 (sharing grid), row #2: cells of 2 everywhere but the
# centre pixel, 17x17 parameters; half grid (outer -> centre) [2] * 8 + [1],
# 0.27x the parameters of dense:
# 81.0 top-1. Otherwise pelk-t_grid33-exp_32xb128-120e_in1k.py (row #5),
# from which it differs in the 33x33 sharing grids only.
_base_ = './pelk-t_grid33-exp_32xb128-120e_in1k.py'

grid = [2] * 8 + [1]
model = dict(
    backbone=dict(
        arch=dict(sharing_grids=[grid] * 3 + [{{_base_.grid_13_dense}}])))
