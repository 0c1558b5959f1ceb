# RepLKNet-31B pre-trained on ImageNet-22K, fine-tuned on ImageNet-1K at
# 384x384: paper Table 6, 86.0 top-1 (79M params, 45.1 GFLOPs). The 1K 384
# fine-tune with drop path 0.3 and cosine to 3e-4 (official command); only the
# backbone comes from the 22K model:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH_TO_22K_CHECKPOINT
_base_ = './replknet-31B_in1k-pre_32xb32-30e_in1k-384px.py'

model = dict(
    backbone=dict(
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    init_cfg=None)

# 32 GPUs x 16 images.
train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=16)
test_dataloader = val_dataloader

warmup_epochs = 1
max_epochs = 30
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.75, by_epoch=True,
         begin=warmup_epochs, end=max_epochs,
         T_max=max_epochs - warmup_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=512)
