# configs/replknet/upernet_ade20k.py evaluated with multi-scale + flip test
# (ratios 0.5-1.75 of 2048x512, mmseg's ADE20K tta_pipeline): paper Table 8
# "mIoU (ms)" 50.6. Training is identical; use this file with tools/test.py.
_base_ = './upernet_ade20k.py'

test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
