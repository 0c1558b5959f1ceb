# upernet_pelk-b-101_in1k-pre_8xb2-160k_ade20k-512x512.py evaluated with
# multi-scale + flip test (ratios 0.5-1.75 of 2048x512). The paper reports
# single-scale mIoU only (Table 2: 50.6). Training is identical; use this
# file with tools/test.py. Each scale infers the whole image, as ConvNeXt's
# multi-scale configs (upernet_convnext_*_512_160k_ade20k_ms.py); the
# single-scale config slides 512x512 windows as their _ss configs.
_base_ = './upernet_pelk-b-101_in1k-pre_8xb2-160k_ade20k-512x512.py'

test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
model = dict(_delete_=True, type='SegTTAModel',
             module=dict(_base_.model, test_cfg=dict(mode='whole')))
