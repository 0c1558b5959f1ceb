# ParCNetV2-26M + UperNet on ADE20K, 512x512 crops, 160k iterations, from
# the ImageNet-1K classifier (parcnetv2-26m_8xb128-300e_in1k.py). Paper
# Table 4: 48.2 mIoU (single-scale), 55M params, 946 GFLOPs at 2048x512.
#
# "All model variants are trained for 160K iterations with a batch size of
# 16 ... Other settings follow [ConvNeXt]" (Sec. 4.4). This file therefore
# inherits mmseg's ConvNeXt recipe (stock
# convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py, the 1.x
# name of upernet_convnext_tiny_fp16_512x512_160k_ade20k.py): 8 GPUs x 2
# images, AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.05, mixed
# precision with dynamic loss scale, 1500-iteration linear warm-up from
# 1e-6 then poly (power 1) to 0, UperNet 512 channels + auxiliary FCN head
# on stage 3 (loss weight 0.4), SyncBN in the heads, mmseg's ADE20K
# augmentation, sliding-window test 512x512 / stride 341. Changed:
#   * the backbone: lkmm.ParCNetV2 '26m', all four stage outputs, each with
#     its LayerNorm (gap_before_final_norm=False), drop path 0.3 (the
#     authors' release, XuRuihan/ParCNetV2 semantic_segmentation
#     upernet_parcnetv2_tiny_512_160k_ss.py; ConvNeXt-T uses 0.4). The
#     oversized kernels keep their ImageNet shapes (train_size 224, the
#     checkpoint's) and are resized to 2H-1 x 2W-1 of every input
#     (paper Sec. 3.1);
#   * head widths 64-128-320-512 (auxiliary head: stage 3, 320);
#   * stage-wise learning-rate decay 0.9 with num_layers 6, as ConvNeXt's
#     recipe and the release (lkmm.LayerDecayOptimWrapperConstructor with
#     mmseg's ConvNeXt stage ids: stem and downsampling 0, stage i i+1,
#     output norms with the head); no weight decay on norms, biases, 1-D
#     tensors and LayerScale (gamma1 / gamma2), as ConvNeXt's constructor.
#
# Multi-scale + flip test: upernet_parcnetv2-26m_in1k-pre_8xb2-amp-160k_
# ade20k-512x512_ms.py.
_base_ = 'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'  # noqa: E501
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    backbone=dict(
        _delete_=True,
        type='lkmm.ParCNetV2',
        arch='26m',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        gap_before_final_norm=False,
        # The ImageNet-1K ParCNetV2-26M classifier checkpoint (lkmm format,
        # e.g. from parcnetv2-26m_8xb128-300e_in1k.py): set it with
        # --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
        # refuses to start without it. norm0-2 start fresh, norm3 from the
        # classifier's final LayerNorm.
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=150),
    auxiliary_head=dict(in_channels=320, in_index=2, num_classes=150),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(341, 341)))

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='lkmm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        decay_rate=0.9, decay_type='stage_wise', num_layers=6,
        no_decay_names=['gamma1', 'gamma2']),
    loss_scale='dynamic')

# Inherited: LinearLR 1e-6 -> 1 over 1500 iterations, PolyLR power 1 to 0
# until 160k; IterBasedTrainLoop 160k, validation every 16k; 8 GPUs x 2.

# Multi-scale + flip test as mmseg 0.x ran it for ConvNeXt and the
# release (MultiScaleFlipAug, img_scale (2048, 512)): each ratio scales the
# 2048x512 test scale. mmseg 1.x's stock ADE20K tta_pipeline scales the
# original image instead. Used by the _ms config and tools/test.py --tta.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(int(2048 * r), int(512 * r)),
                     keep_ratio=True) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ]),
]
