# PeLK ablation, Table 5 (sharing grid), row #4: cells of 4 (then 2) around a
# 5x5 centre, 13x13 parameters; half grid (outer -> centre) [4, 4, 4, 2, 1, 1,
# 1], 0.16x the parameters of dense:
# 81.3 top-1. Otherwise pelk-t_grid33-exp_32xb128-120e_in1k.py (row #5),
# from which it differs in the 33x33 sharing grids only.
_base_ = './pelk-t_grid33-exp_32xb128-120e_in1k.py'

grid = [4, 4, 4, 2, 1, 1, 1]
model = dict(
    backbone=dict(
        arch=dict(sharing_grids=[grid] * 3 + [{{_base_.grid_13_dense}}])))
