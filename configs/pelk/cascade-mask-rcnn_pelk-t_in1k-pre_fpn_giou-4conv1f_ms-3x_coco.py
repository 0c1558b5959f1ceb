# PeLK-T + Cascade Mask R-CNN on COCO, 3x, multi-scale training.
# Paper "PeLK" (CVPR 2024), Table 3: 51.4 AP box, 44.6 AP mask on val2017;
# 86M params, 770 GFLOPs at 1280x800.
#
# The paper: "Following ConvNeXt, we use the multi-scale setting and default
# configurations in MMDetection ... 3x (36-epoch)". No downstream code was
# released, so this is ConvNeXt's Cascade Mask R-CNN recipe (ConvNeXt release
# / mmdet's cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-
# 3x_coco.py):
# * Cascade Mask R-CNN with FPN; three 4conv1fc box heads with SyncBN
#   regressing decoded boxes with GIoU loss (weight 10);
# * AdamW lr 2e-4, betas (0.9, 0.999), weight decay 0.05 (none on norms,
#   biases and other 1-D tensors), layer-wise lr decay 0.7 with ConvNeXt's
#   grouping (num_layers 6 for T: stem 0, stage 0 1, stage 1 2, stage 2 in
#   groups of three blocks 3-5, stage 3 6, heads 7; 12 for S/B) through
#   lkmm.LayerDecayOptimWrapperConstructor;
# * 500-iteration linear warm-up from 0.001x (mmdet 2.x default schedule,
#   which ConvNeXt used; mmdet 3.x's stock ConvNeXt config has 1000), 36
#   epochs with lr x0.1 after epochs 27 and 33;
# * DETR-style multi-scale training: flip, then either a short side of
#   480..800 (step 32, long side <= 1333) or a short side of 400/500/600, a
#   random 384..600 crop and again 480..800; single-scale test at 1333x800;
# * 8 GPUs x 2 images (batch 16, mmdet's base batch for --auto-scale-lr);
# * drop path 0.4 (ConvNeXt-T's; the paper gives none).
# RepLKNet's COCO config (../replknet/cascade-mask-rcnn_replknet-31B_in1k-
# pre_fpn_giou-4conv1f_ms-3x_coco.py, the same Swin / ConvNeXt setting) has
# these heads, pipeline and schedule: inherited, with the backbone, FPN
# widths, batch and the layer-decayed optimizer set here.
#
# Backbone: no dynamic sparsity in fine-tuning (see the ADE20K configs); the
# paper's 86M counts the non-zero weights of the 40%-sparse backbone plus the
# dense detector (configs/pelk/README.md).
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
