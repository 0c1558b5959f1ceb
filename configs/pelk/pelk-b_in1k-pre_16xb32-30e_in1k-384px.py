# PeLK-B fine-tuned at 384x384 from the 224 model
# (pelk-b_128xb32-300e_in1k.py): PeLK Table 4, 85.6 top-1 (89M params, 54.0
# GFLOPs; 40%-sparse). ConvNeXt-B's 224 -> 384 fine-tune (see the README,
# "Recipes"). Give the 224 checkpoint twice, for weights and sparsity masks:
#   --cfg-options model.init_cfg.checkpoint=CKPT load_from=CKPT
_base_ = [
    '../_base_/models/large_kernel_convnext.py',
    '../_base_/datasets/imagenet_randaug_384.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(arch='pelk-b', drop_path_rate=0.8),
    head=dict(in_channels=1331),
    train_cfg=None,  # no Mixup / CutMix
    # _delete_: replaces the from-scratch TruncNormal init of the base.
    init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=None))

# 16 GPUs x 32 images = 512.
train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader

# ConvNeXt's layer ids of the 3-3-27-3 backbone (README, "Recipes").
decay_rate = 0.7
num_layers = 12
layer_ids = {
    'backbone.downsample_layers.0.': 0,
    'backbone.stages.0.': 1,
    'backbone.downsample_layers.1.': 2,
    'backbone.stages.1.': 2,
    'backbone.downsample_layers.2.': 3,
    'backbone.stages.2.pos_embed.': 3,
    **{f'backbone.stages.2.blocks.{k}.': 3 + k // 3
       for k in range(27)},
    'backbone.downsample_layers.3.': 12,
    'backbone.stages.3.': 12,
}
optim_wrapper = dict(
    optimizer=dict(lr=5e-5, weight_decay=1e-8),
    paramwise_cfg=dict(
        # _delete_: drop the stock Swin keys.
        custom_keys=dict(
            _delete_=True, **{
                key: dict(lr_mult=decay_rate**(num_layers + 1 - layer_id))
                for key, layer_id in layer_ids.items()
            })))

max_epochs = 30
param_scheduler = [
    # ConvNeXt's min_lr 1e-6 at lr 5e-5, as a ratio so that every layer
    # group ends at the same fraction of its own lr (as ConvNeXt scales it).
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-6 / 5e-5, by_epoch=True,
         begin=0, end=max_epochs, T_max=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=512)

# The 224 checkpoint again, for its sparsity masks (README, "Recipes").
load_from = None
custom_hooks = [
    dict(type='lkmm.DynamicSparsityHook', sparsity=0.4, init='snip',
         snip_positions='score', stop_iter=1, load_masks=True),
]
