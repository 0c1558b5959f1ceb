# RepLKNet's large-kernel guidelines on MobileNetV2 (paper Sec. 3): the
# baseline, every depth-wise conv 3x3 with shortcuts, i.e. MobileNetV2
# 1.0x. Paper: 71.76 top-1 (Tables 2, 3 and 4, the same model). The other
# rows inherit this file and change only the backbone's arch (a name in
# lkmm.LargeKernelMobileNetV2.arch_zoo); the list is in README.md.
#
# Recipe (arXiv Appendix A): 8 GPUs x 32 images at 224x224, SGD momentum
# 0.9, lr 0.1, 5-epoch warm-up, cosine annealing, 100 epochs; data
# augmentation: random cropping and left-right flipping only
# (mmpretrain's stock imagenet_bs32.py: RandomResizedCrop 224 + RandomFlip;
# test: short side 256, centre crop 224).
# Lost in extraction, assumed (../../_base_/schedules/
# imagenet_bs256_sgd_warmup-cosine_100e.py says why): weight decay 4e-5 (the
# appendix reads "weight decay of , learning rate"), the warm-up's start
# (1e-3 x lr).
# Not stated, assumed: plain cross-entropy (the appendix lists no label
# smoothing or other regularization), mmpretrain's MobileNetV2
# initialization (Kaiming convs), a 1000-class linear head on the pooled
# 1280-wide final conv (MobileNetV2's), no dropout.
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
