# PeLK-T + UperNet on ADE20K, 512x512 crops, 160k iterations: PeLK (CVPR 2024)
# Table 2, 48.1 mIoU single-scale (62M params, 970 GFLOPs at 2048x512); the
# _ms config tests multi-scale + flip. ConvNeXt's ADE20K recipe, no sparsity
# (configs/pelk/README.md, "ADE20K"). Set the PeLK-T classifier
# (pelk-t_32xb128-300e_in1k.py; training refuses to start without it):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_large_kernel_convnext.py',
    '../_base_/datasets/ade20k_tta-2048x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/schedule_adamw_warmup-poly_160k.py',
]

crop_size = (512, 512)
model = dict(
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='lkmm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(decay_rate=0.9, decay_type='stage_wise',
                       num_layers=6))
