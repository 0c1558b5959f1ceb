# RepLKNet's guidelines on MobileNetV2 (paper Sec. 3): the baseline, every
# depth-wise conv 3x3 with shortcuts (MobileNetV2 1.0x). Paper: 71.76 top-1
# (Tables 2, 3 and 4). The other rows inherit this file and change only the
# backbone's arch; the recipe (arXiv Appendix A) and its assumptions:
# README.md.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../../_base_/schedules/imagenet_bs256_sgd_warmup-cosine_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='lkmm.LargeKernelMobileNetV2',
        arch='k3',
        out_indices=(3, ),
        final_channels=1280),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1280,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))

# 8 GPUs x 32 images.
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
