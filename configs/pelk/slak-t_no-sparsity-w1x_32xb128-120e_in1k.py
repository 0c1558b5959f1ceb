# PeLK Table 1 "SLaK-51, w/o sparsity": stripe kernels (51-49-47-13), 120
# epochs, no dynamic sparsity, ConvNeXt-T widths: 81.3 top-1. Why 1.0x and how
# to train the 1.3x-wide dense model: configs/pelk/README.md, "Recipes".
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
