# RepLKNet-31L pre-training on ImageNet-22K; recipe as
# replknet-31B_128xb32-90e_in21k.py (official command identical but --model).
_base_ = './replknet-31B_128xb32-90e_in21k.py'

model = dict(backbone=dict(arch='31L'), head=dict(in_channels=1536))
