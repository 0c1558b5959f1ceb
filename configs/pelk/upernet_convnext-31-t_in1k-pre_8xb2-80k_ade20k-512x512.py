# ConvNeXt-T with 31-29-27-13 kernels + UperNet on ADE20K, 512x512 crops,
# 80k iterations: RepLKNet paper ("Scaling Up Your Kernels to 31x31",
# arXiv version), Appendix D / Table 11 -- ConvNeXt's 7x7 depth-wise kernels
# replaced by kernels as large as 31x31, with a 5x5 re-parameterization
# branch (RepLKNet's; folded away for inference). The appendix: "The
# training configurations on ImageNet (120 epochs) and ADE20K (80K
# iterations) are identical to the results shown in Sec. 4.2", i.e. the
# kernel-size study.
#
# Recipe: therefore exactly lkmm's kernel-study config
# configs/replknet/upernet_replknet-31_in1k-pre_8xb2-80k_ade20k-512x512.py
# (RepLKNet release's UperNet recipe: AdamW lr 2e-4, weight decay 0.05 with
# none on norms, no lr decay, 1500-iteration warm-up then poly to 80k,
# 8 GPUs x 2 images, SyncBN, drop path 0.5, whole-image test at 2048x512),
# composed from the same bases with only the backbone swapped. Single-scale
# mIoU, as the paper reports.
# Starts from the 120-epoch ImageNet-1K ConvNeXt-31-T classifier of
# convnext-31-t_32xb64-120e_in1k.py (lkmm format; no official weights): set
# it with --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
# refuses to start without it.
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
