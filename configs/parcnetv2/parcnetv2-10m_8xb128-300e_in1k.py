# ParCNetV2-10M, ImageNet-1K, 224x224, 300 epochs. Paper: 9.7M params
# (Table 1; no 300-epoch accuracy or FLOPs published). lkmm: 9.65M,
# 1.54 GFLOPs.
#
# Recipe: the 26M one (parcnetv2-26m_8xb128-300e_in1k.py: paper Sec. 4.2,
# AdamW lr 5e-4 at batch 1024, weight decay 0.05, 20-epoch warm-up +
# cosine, label smoothing 0.1, Mixup 0.8 / CutMix 1.0, Random Erasing 0.25,
# EMA 0.9999) with the 10M backbone and drop path 0.1, the authors'
# ablation code's for this model (XuRuihan/ConvNeXt submit/1k/*_xt.sh:
# --drop_path 0.1 --model_ema true).
_base_ = './parcnetv2-26m_8xb128-300e_in1k.py'

model = dict(
    backbone=dict(arch='10m', drop_path_rate=0.1),
    head=dict(in_channels=384))
