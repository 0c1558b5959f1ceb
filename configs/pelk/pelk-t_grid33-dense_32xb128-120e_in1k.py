# PeLK ablation, Table 5 (sharing grid), row #1: all ones, i.e. a dense 33x33
# kernel (the baseline); half grid (outer -> centre) [1] * 17, 1.00x the
# parameters of dense:
# 81.4 top-1. Otherwise pelk-t_grid33-exp_32xb128-120e_in1k.py (row #5),
# from which it differs in the 33x33 sharing grids only.
_base_ = './pelk-t_grid33-exp_32xb128-120e_in1k.py'

grid = [1] * 17
model = dict(
    backbone=dict(
        arch=dict(sharing_grids=[grid] * 3 + [{{_base_.grid_13_dense}}])))
