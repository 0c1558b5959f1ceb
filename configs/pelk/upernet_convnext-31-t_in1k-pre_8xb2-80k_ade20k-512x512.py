# ConvNeXt-T with 31-29-27-13 kernels + UperNet on ADE20K, 512x512 crops, 80k
# iterations (RepLKNet paper, Appendix D / Table 11; single-scale mIoU): the
# RepLKNet kernel-study recipe with the backbone swapped (see the README).
# Set the convnext-31-t_32xb64-120e_in1k.py classifier (no official weights;
# training refuses to start without it):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/upernet_large_kernel_convnext.py',
    '../_base_/datasets/ade20k_tta-2048x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/schedule_adamw_warmup-poly_80k.py',
]

channels = [96, 192, 384, 768]
model = dict(
    backbone=dict(arch='convnext-31-t', drop_path_rate=0.5),
    decode_head=dict(in_channels=channels),
    auxiliary_head=dict(in_channels=channels[2]))

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)
