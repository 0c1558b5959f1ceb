# RepLKNet-31B pre-training on ImageNet-22K (no published top-1), the start of
# the 22K->1K fine-tunes and the 22K downstream models: 90 epochs, drop path
# 0.1, 5-epoch warm-up, total batch 4096, no evaluation, 21841 classes from
# data/imagenet21k (paper Appendix A, official command;
# configs/replknet/README.md).
_base_ = './replknet-31_32xb64-120e_in1k.py'

num_classes = 21841
model = dict(
    backbone=dict(arch='31B', drop_path_rate=0.1),
    head=dict(num_classes=num_classes))
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(
    batch_size=32,
    dataset=dict(type='ImageNet21k', data_root='data/imagenet21k'))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

warmup_epochs = 5
max_epochs = 90
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, T_max=max_epochs - warmup_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs + 1)
auto_scale_lr = dict(base_batch_size=4096)
