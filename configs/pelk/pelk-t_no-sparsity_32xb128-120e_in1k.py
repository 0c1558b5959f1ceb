# PeLK-T without dynamic sparsity, ImageNet-1K, 224x224, 120 epochs: the
# reference of the PeLK ablations (Sec. 5.4), 81.6 top-1 in Table 6 (5x5
# centre) and Table 7 (51-49-47-13). SLaK's recipe with 120 epochs, EMA and no
# sparsity; the other ablations inherit this file and change one arch field.
_base_ = './pelk-t_32xb128-300e_in1k.py'

model = dict(
    backbone=dict(
        # arch 'pelk-t' written out, so that children override one key
        # (_delete_: it replaces the inherited name).
        arch=dict(
            _delete_=True,
            depths=[3, 3, 9, 3],
            channels=[124, 249, 499, 998],
            kernel_sizes=[51, 49, 47, 13],
            form='peripheral',
            small_kernel=5,
            centre_size=5,
            sharing_grids=None,
            partial_ratio=3 / 8,
            pos_embed=True),
        drop_path_rate=0.1))

warmup_epochs = 20
max_epochs = 120
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)

# EMA only (update_buffers: see pelk-t_32xb128-300e_in1k.py).
custom_hooks = [
    dict(type='EMAHook', momentum=1e-4, update_buffers=True,
         priority='ABOVE_NORMAL'),
]
