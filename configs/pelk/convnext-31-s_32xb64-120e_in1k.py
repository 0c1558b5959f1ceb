# ConvNeXt-S with 31x31 kernels (RepLKNet paper, appendix "Large kernel
# design is a generic design element that works with ConvNeXt", Table 11):
# ConvNeXt-S (3-3-27-3 blocks, widths 96-192-384-768) with the 7x7
# depth-wise kernels replaced by 31-29-27-13 (+ a 5x5 re-parameterization
# branch), ImageNet-1K, 120 epochs. The appendix trains T and S with the
# same recipe (RepLKNet's 120-epoch one, drop path 0.3): everything but the
# arch comes from convnext-31-t_32xb64-120e_in1k.py.
_base_ = './convnext-31-t_32xb64-120e_in1k.py'

model = dict(backbone=dict(arch='convnext-31-s'))
