# PeLK ablation, Table 5 (sharing grid), row #6: the exponential grid inverted
# (fine periphery, coarse centre), 11x11 parameters; half grid (outer ->
# centre) [1, 1, 2, 4, 8, 1], 0.11x the parameters of dense:
# 80.5 top-1. Otherwise pelk-t_grid33-exp_32xb128-120e_in1k.py (row #5),
# from which it differs in the 33x33 sharing grids only.
_base_ = './pelk-t_grid33-exp_32xb128-120e_in1k.py'

grid = [1, 1, 2, 4, 8, 1]
model = dict(
    backbone=dict(
        arch=dict(sharing_grids=[grid] * 3 + [{{_base_.grid_13_dense}}])))
