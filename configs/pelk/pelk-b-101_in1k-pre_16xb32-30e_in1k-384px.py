# PeLK-B-101 fine-tuned at 384x384 from the 224x224 ImageNet-1K model
# (pelk-b-101_128xb32-300e_in1k.py): 85.8 top-1, 90M params, 68.3 GFLOPs
# (PeLK paper Table 4; 40%-sparse model). Kernels 101-69-67-13, 7x7 centre;
# recipe as pelk-b_in1k-pre_16xb32-30e_in1k-384px.py (ConvNeXt's 1K 384
# fine-tune, fixed sparsity pattern):
#   --cfg-options model.init_cfg.checkpoint=CKPT load_from=CKPT
_base_ = './pelk-b_in1k-pre_16xb32-30e_in1k-384px.py'

model = dict(backbone=dict(arch='pelk-b-101'))
