# PeLK Table 1 "SLaK-51, w/o sparsity": stripe kernels (51x5 + 5x51 + 5x5,
# 51-49-47-13), 120 epochs, no dynamic sparsity: 81.3 top-1.
# "w/o sparsity" drops SLaK's second step as a whole -- "using dynamic
# sparsity and expanding more width" (PeLK Sec. 3): SLaK widens by 1.3x only
# to spend the parameters sparsity saves. So ConvNeXt-T widths 96-192-384-768
# here (a decision: the paper does not print the widths; for the 1.3x-wide
# dense model set arch.channels=[124, 249, 499, 998] and
# head.in_channels=998). Otherwise slak-t_32xb128-120e_in1k.py without the
# sparsity hook.
_base_ = './slak-t_32xb128-120e_in1k.py'

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            depths=[3, 3, 9, 3],
            channels=[96, 192, 384, 768],
            kernel_sizes=[51, 49, 47, 13],
            form='stripe')),
    head=dict(in_channels=768))

# EMA only (update_buffers: see pelk-t_32xb128-300e_in1k.py).
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
