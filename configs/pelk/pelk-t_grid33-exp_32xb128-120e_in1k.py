# PeLK ablation, Table 5 (sharing grid), row #5: exponential half grid
# [8, 4, 2, 1, 1, 1] around a 5x5 centre (0.11x of a dense 33x33): 81.4 top-1.
# Table 5's setting (120 epochs, no sparsity, no positional embedding, kernels
# 33-33-33-13): configs/pelk/README.md. The other rows inherit this file and
# change sharing_grids only: pelk-t_grid33-{dense,fixed2,fixed2-c5,...}.
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k.py'

grid_13_dense = [1] * 7  # half grid of a dense 13x13
model = dict(
    backbone=dict(
        arch=dict(
            kernel_sizes=[33, 33, 33, 13],
            pos_embed=False,
            sharing_grids=[[8, 4, 2, 1, 1, 1]] * 3 + [grid_13_dense])))
