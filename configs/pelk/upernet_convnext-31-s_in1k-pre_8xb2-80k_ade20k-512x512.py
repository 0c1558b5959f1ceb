# ConvNeXt-S with 31-29-27-13 kernels + UperNet on ADE20K, 512x512 crops, 80k
# iterations (RepLKNet paper, Appendix D / Table 11): the ConvNeXt-31-T config
# with the S arch. Set the convnext-31-s_32xb64-120e_in1k.py classifier:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './upernet_convnext-31-t_in1k-pre_8xb2-80k_ade20k-512x512.py'

model = dict(backbone=dict(arch='convnext-31-s'))
