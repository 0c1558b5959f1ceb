# RepLKNet-31B + UperNet on ADE20K, 512x512, 160k iterations.
# Paper "Scaling Up Your Kernels to 31x31", Table 8 row 1 (ImageNet-1K
# pre-training): 49.9 mIoU single-scale, 50.6 multi-scale; 112M params,
# 1170 GFLOPs at 2048x512.
#
# Recipe: the official release (RepLKNet-pytorch segmentation/configs/
# RepLKNet-31B_1Kpretrain_upernet_160k_ade20k_512.py): the release's UperNet
# (../_base_/models/upernet_replknet-31B.py), mmseg's ADE20K data (512x512
# crops, whole-image test at 2048x512) and its optimizer, AdamW lr 2e-4 with
# a linear warm-up then poly (../_base_/schedules/
# schedule_adamw_warmup-poly_160k.py). Starts from the ImageNet-1K
# RepLKNet-31B (lkmm format): set it with --cfg-options
# model.backbone.init_cfg.checkpoint=PATH; training refuses to start
# without it.
#
# Schedule (a choice): 8 GPUs x 2 images x 160k iterations, 1500 warm-up
# iterations, 2.56M images. The paper states only "160K" iterations; 8 x 2
# (16 images per iteration) is the batch of the Swin / ConvNeXt ADE20K
# configs it compares with, so the paper's iteration count is kept at that
# batch. The official release instead trained 64 GPUs x 2 images x 40k
# iterations with a 400-iteration warm-up at the same lr 2e-4 (5.12M
# images, twice as many): that run is
# upernet_replknet-31B_in1k-pre_64xb2-40k_ade20k-512x512.py.
# The lr is NOT rescaled for the 8x smaller batch: 2e-4 is the release's lr
# for 128 images per iteration, used here at 16 (linear scaling would
# divide it by 8; the release's own note only says to adjust the batch size
# and the iterations).
#
# Multi-scale test: configs/replknet/upernet_ade20k_ms.py or
#   tools/test.py CONFIG CKPT --tta
_base_ = [
    '../_base_/models/upernet_replknet-31B.py',
    '../_base_/datasets/ade20k_tta-2048x512.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/schedules/schedule_adamw_warmup-poly_160k.py',
]

# 8 GPUs x 2 images.
train_dataloader = dict(batch_size=2)
