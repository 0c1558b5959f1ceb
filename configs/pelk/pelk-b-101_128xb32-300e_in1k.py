# PeLK-B-101, ImageNet-1K, 224x224, 300 epochs: the starting point of the
# 384x384 PeLK-B-101 (85.8 top-1, 90M params, 68.3 GFLOPs at 384, paper
# Table 4); the paper reports no 224 result for it.
# Kernels 101-69-67-13 with a 7x7 fine-grained centre (paper Sec. 4.4),
# otherwise PeLK-B and its recipe (pelk-b_128xb32-300e_in1k.py).
_base_ = './pelk-b_128xb32-300e_in1k.py'

model = dict(backbone=dict(arch='pelk-b-101'))
