# lkmm.LargeKernelConvNeXt (PeLK / SLaK / ConvNeXt-31) ImageNet classifier,
# laid out as mmpretrain's ConvNeXt classifiers
# (mmpretrain::_base_/models/convnext/convnext-tiny.py): the backbone pools
# and layer-norms its last stage itself (gap_before_final_norm=True returns
# (N, C)), so there is no neck; a linear head on the last width; truncated
# normal init (std .02) of every conv / linear, as SLaK and ConvNeXt; label
# smoothing 0.1 and Mixup 0.8 / CutMix 1.0 (one of the two per batch).
# The children set the arch, drop path and head width (PeLK/SLaK-T and -S:
# int(1.3 * 768) = 998; -B: int(1.3 * 1024) = 1331; ConvNeXt-31-T/S: 768).
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
