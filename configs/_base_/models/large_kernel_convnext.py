# lkmm.LargeKernelConvNeXt (PeLK / SLaK / ConvNeXt-31) ImageNet classifier, as
# mmpretrain's ConvNeXt ones: no neck (the backbone pools and norms), a linear
# head, truncated-normal init, label smoothing, Mixup / CutMix. The children
# set the arch, drop path and head width (configs/pelk/README.md).
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='lkmm.LargeKernelConvNeXt',
        arch='pelk-t',
        out_indices=(3, ),
        gap_before_final_norm=True,
        drop_path_rate=0.1),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=998,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=None),
    init_cfg=dict(
        type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02, bias=0.),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]))
