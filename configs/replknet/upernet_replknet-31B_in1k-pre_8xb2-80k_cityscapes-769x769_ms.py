# upernet_replknet-31B_in1k-pre_8xb2-80k_cityscapes-769x769.py evaluated with
# multi-scale + flip test (mmseg's Cityscapes tta_pipeline: ratios 0.5-1.75
# of the 2048x1024 images, whole-image inference at each): paper Table 7
# "mIoU (ms)" 83.5. Training is identical; use this file with tools/test.py.
_base_ = './upernet_replknet-31B_in1k-pre_8xb2-80k_cityscapes-769x769.py'

test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
