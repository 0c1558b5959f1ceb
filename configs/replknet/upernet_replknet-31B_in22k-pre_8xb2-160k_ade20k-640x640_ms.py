# upernet_replknet-31B_in22k-pre_8xb2-160k_ade20k-640x640.py evaluated with
# multi-scale + flip test (ratios 0.5-1.75 of the 2048x512 test scale, each
# scale inferred with the sliding 640x640 windows): paper Table 8
# "mIoU (ms)" 52.3. Training is identical; use this file with tools/test.py.
_base_ = './upernet_replknet-31B_in22k-pre_8xb2-160k_ade20k-640x640.py'

test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
