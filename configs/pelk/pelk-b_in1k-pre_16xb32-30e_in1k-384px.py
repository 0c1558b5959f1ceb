# PeLK-B fine-tuned at 384x384 from the 224x224 ImageNet-1K model (300-epoch
# pelk-b_128xb32-300e_in1k.py): 85.6 top-1, 89M params, 54.0 GFLOPs (PeLK
# paper Table 4; 40%-sparse model).
# The paper's Appendix A (training details) is not available; PeLK follows
# SLaK, which follows ConvNeXt, so this is ConvNeXt-B's official ImageNet-1K
# 224 -> 384 fine-tune (facebookresearch/ConvNeXt TRAINING.md): 30 epochs,
# total batch 512 (16 GPUs x 32), AdamW lr 5e-5, weight decay 1e-8, no
# warm-up, cosine to 1e-6 (times each layer's lr scale), layer-wise lr
# decay 0.7, drop path 0.8, the same RandAugment / Random Erasing / label
# smoothing, no Mixup / CutMix, no EMA (the command has no --model_ema),
# test at 384 without a centre crop.
# * Layer-wise decay: ConvNeXt's 14 layer ids (stem 0; stage 0 1; stage 1
#   and downsample 1 2; stage 2 in groups of 3 blocks 3..11 with downsample
#   2 on 3; stage 3 and downsample 3 12; head and final norm 13), lr of id i
#   = lr x 0.7 ** (13 - i), written as paramwise custom_keys (lkmm's
#   LayerDecayOptimWrapperConstructor has no LargeKernelConvNeXt rule yet).
#   A custom key replaces the norm / bias / 1-D weight-decay exemption;
#   with weight decay 1e-8 that changes nothing measurable. The stage-shared
#   positional embedding of stage 2 goes with its first group (id 3).
# * Sparsity: the model stays 40% sparse with the 224 model's pattern, fixed
#   (no prune / regrow: stop_iter=1). Give the 224 checkpoint twice:
#     --cfg-options model.init_cfg.checkpoint=CKPT load_from=CKPT
#   model.init_cfg is the guard (the config refuses to train until it is
#   set) and loads the whole classifier; load_from makes the runner hand the
#   checkpoint to the DynamicSparsityHook, which restores its masks exactly
#   (checkpoint['lkmm_sparsity']; the weights loaded twice are the same).
#   Without load_from the hook falls back to SNIP with
#   snip_positions='score' on the loaded weights: it keeps the 60% largest
#   |w * dL/dw|, and masked weights are exactly zero, so it finds the 224
#   pattern up to ties -- weights whose gradient vanishes on that one batch
#   (e.g. a block that drop path 0.8 dropped for the whole batch) -- and
#   the surplus of layers the 224 SNIP left dense. Resuming restores the
#   saved masks.
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

# ConvNeXt's layer ids of the 3-3-27-3 backbone (see the header).
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

# The 224 checkpoint again, for its sparsity masks (see the header).
load_from = None
custom_hooks = [
    dict(type='lkmm.DynamicSparsityHook', sparsity=0.4, init='snip',
         snip_positions='score', stop_iter=1, load_masks=True),
]
