# PeLK ablation, Table 5 (sharing grid), row #5: exponentially growing grid
# with a 5x5 fine-grained centre, half grid [8, 4, 2, 1, 1, 1] (11x11
# parameters for a 33x33 kernel, 0.11x of dense): 81.4 top-1.
# Table 5 setting: PeLK-T, 120 epochs, no dynamic sparsity and "no
# kernel-wise positional embedding", 33x33 kernels (the all-ones grid "is
# equal to a 33x33 dense convolution as taken in RepLKNet"). The paper gives
# the grids of the 33x33 kernel only: here kernels 33-33-33-13, the grid of
# the row in stages 0-2 and a dense 13x13 (all-ones grid) in stage 3 in
# every row, so that the rows differ only in the 33x33 grids.
# The other rows inherit this file and change sharing_grids only:
# pelk-t_grid33-{dense,fixed2,fixed2-c5,fixed4-c5,inverted}_...in1k.py
_base_ = './pelk-t_no-sparsity_32xb128-120e_in1k.py'

grid_13_dense = [1] * 7  # half grid of a dense 13x13
model = dict(
    backbone=dict(
        arch=dict(
            kernel_sizes=[33, 33, 33, 13],
            pos_embed=False,
            sharing_grids=[[8, 4, 2, 1, 1, 1]] * 3 + [grid_13_dense])))
