# RepLKNet's UperNet schedule (official release): AdamW lr 2e-4, weight decay
# 0.05 (none on norm layers), 1500-iteration linear warm-up, poly to 0 at 160k
# iterations, validation every 16k. The lr is not rescaled to the configs'
# batch (configs/replknet/README.md, "ADE20K").
_base_ = 'mmseg::_base_/schedules/schedule_160k.py'

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    # No weight decay on normalization layers.
    paramwise_cfg=dict(norm_decay_mult=0.))

max_iters = 160000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
         end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500,
         end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=16000)
