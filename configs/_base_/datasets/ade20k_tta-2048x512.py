# mmseg's stock ADE20K dataset (512x512 crops, 2048x512 test scale) with the
# multi-scale + flip test of the mmseg 0.x releases that the papers used:
# ratios 0.5-1.75 of the 2048x512 test scale (mmseg 1.x's stock
# tta_pipeline scales the original image instead). Used by the _ms configs
# and tools/test.py --tta.
_base_ = 'mmseg::_base_/datasets/ade20k.py'

img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(int(2048 * r), int(512 * r)),
                     keep_ratio=True) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ]),
]
