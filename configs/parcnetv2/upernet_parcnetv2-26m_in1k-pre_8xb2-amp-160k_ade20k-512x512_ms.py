# upernet_parcnetv2-26m_in1k-pre_8xb2-amp-160k_ade20k-512x512.py evaluated
# with multi-scale + flip test (ratios 0.5-1.75 of the 2048x512 test scale,
# sliding 512x512 windows at each scale). The paper reports the 26M model
# single-scale only (48.2 mIoU; "does not require multi-scale testing").
# Training is identical; use this file with tools/test.py.
_base_ = './upernet_parcnetv2-26m_in1k-pre_8xb2-amp-160k_ade20k-512x512.py'

test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
