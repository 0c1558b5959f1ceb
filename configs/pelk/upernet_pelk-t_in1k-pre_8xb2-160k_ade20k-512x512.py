# PeLK-T + UperNet on ADE20K, 512x512 crops, 160k iterations.
# Paper "PeLK: Parameter-efficient Large Kernel ConvNets with Peripheral
# Convolution" (CVPR 2024), Table 2: 48.1 mIoU single-scale; 62M params,
# 970 GFLOPs at 2048x512. Multi-scale + flip test:
# upernet_pelk-t_in1k-pre_8xb2-160k_ade20k-512x512_ms.py. Starts from the
# ImageNet-1K PeLK-T classifier (lkmm format, pelk-t_32xb128-300e_in1k.py):
# set it with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# Training refuses to start without it.
#
# The paper gives only "UperNet, 160K iterations, following Swin and
# ConvNeXt" (no downstream code was released). The recipe is therefore
# ConvNeXt's ADE20K one (ConvNeXt release / mmseg's
# convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py), which SLaK's
# released segmentation configs also copy:
# * AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.05 (none on norms,
#   biases and other 1-D tensors), stage-wise lr decay 0.9 with ConvNeXt's
#   num_layers=6 (T; 12 for S/B), i.e. lr x 0.9^7 (stem and downsampling
#   layers), 0.9^6 .. 0.9^3 (stages 0..3), 1 (UperNet and the output norms);
#   lkmm.LayerDecayOptimWrapperConstructor reproduces mmseg's ConvNeXt
#   stage-wise ids exactly (tests/test_engine/test_layer_decay.py);
# * 1500-iteration linear warm-up from 1e-6, then poly (power 1) to 0;
# * 8 GPUs x 2 images (batch 16), 160k iterations;
# * drop path 0.4 (ConvNeXt-T's; the paper gives none);
# * UperNet 512 channels, pool scales (1, 2, 3, 6), auxiliary FCN head on
#   stage 2 (256 channels, loss weight 0.4), SyncBN; mmseg's ADE20K pipeline
#   (random scale 0.5-2 of 2048x512, 512 crop, flip, photometric
#   distortion);
# * sliding-window test, 512x512 windows with stride 341, on images resized
#   to 2048x512: the test of SLaK's and ConvNeXt's single-scale configs
#   (upernet_convnext_*_512_160k_ade20k_ss.py; also mmseg 1.x's stock
#   ConvNeXt configs). Their multi-scale configs (_ms here) infer whole
#   images at each scale.
# RepLKNet's ADE20K config (../replknet/upernet_ade20k.py) is the same
# recipe apart from the optimizer and the test: composed from the same
# bases (the UperNet of ../_base_/models/upernet_large_kernel_convnext.py,
# whose defaults are PeLK-T's), with the layer-decayed optimizer and the
# sliding test set here.
#
# Backbone: no dynamic sparsity in fine-tuning. PeLK pre-trains with SLaK's
# dynamic sparsity (40%); nothing in the paper says it is kept downstream and
# SLaK's downstream code fine-tunes the backbone densely (no masks), so no
# DynamicSparsityHook here: the pruned weights of the checkpoint start at
# zero and are trained. The paper's 62M counts the non-zero weights of the
# 40%-sparse backbone plus the dense UperNet (configs/pelk/README.md).
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
