# RepLKNet-31B ImageNet classifier (lkmm backbone in an mmpretrain model).
# The backbone's final BN before pooling (`final_norm`) is the official
# classifier's `norm`. Label smoothing 0.1 and Mixup 0.8 / CutMix 1.0 (one of
# the two per batch) as the paper's Appendix A.
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='lkmm.RepLKNet',
        arch='31B',
        out_indices=(3, ),
        final_norm=True,
        drop_path_rate=0.5),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5)),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.8),
        dict(type='CutMix', alpha=1.0),
    ]))
