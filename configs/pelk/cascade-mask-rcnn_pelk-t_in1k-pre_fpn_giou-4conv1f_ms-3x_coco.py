# PeLK-T + Cascade Mask R-CNN on COCO, 3x, multi-scale training: PeLK (CVPR
# 2024) Table 3, 51.4 box AP / 44.6 mask AP on val2017 (86M params, 770
# GFLOPs at 1280x800). ConvNeXt's recipe on RepLKNet's COCO config, no
# sparsity (configs/pelk/README.md, "COCO"). Set the ImageNet-1K PeLK-T
# classifier (pelk-t_32xb128-300e_in1k.py):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = ('../replknet/cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-'
          '4conv1f_ms-3x_coco.py')

model = dict(
    backbone=dict(
        _delete_=True,
        type='lkmm.LargeKernelConvNeXt',
        arch='pelk-t',
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.4,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        with_cp=True,
        # The ImageNet-1K PeLK-T classifier checkpoint (lkmm format,
        # pelk-t_32xb128-300e_in1k.py): set it with
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
        # refuses to start without it; init_cfg=None trains from scratch.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    neck=dict(in_channels=[124, 249, 499, 998]))

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='lkmm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(decay_rate=0.7, decay_type='layer_wise',
                       num_layers=6))
auto_scale_lr = dict(enable=False, base_batch_size=16)
