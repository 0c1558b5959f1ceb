# Detection demo: RepLKNet-tiny (kernels 17-15-13-13) + Cascade Mask R-CNN with
# the 4conv1fc GIoU heads on generated shapes in COCO format
# (tools/misc/make_demo_data.py --task coco), a few minutes on a CPU: the
# published 31B COCO config shrunk (configs/demo/README.md).
_base_ = ('../replknet/cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_'
          'giou-4conv1f_ms-3x_coco.py')

data_root = 'data/lkmm_shapes_coco/'
metainfo = dict(
    classes=('disk', 'square', 'triangle'),  # lkmm SHAPES_COCO_METAINFO
    palette=[[220, 60, 60], [60, 200, 60], [60, 90, 230]])
num_classes = 3
norm_cfg = dict(type='BN', requires_grad=True)
channels = 64  # FPN and RoI feature channels (256 in the published config)

giou_bbox_head = dict(
    type='Shared4Conv1FCBBoxHead',
    in_channels=channels,
    conv_out_channels=channels,
    fc_out_channels=256,
    roi_feat_size=7,
    num_classes=num_classes,
    reg_class_agnostic=False,
    reg_decoded_bbox=True,
    norm_cfg=norm_cfg,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox=dict(type='GIoULoss', loss_weight=10.0))
target_stds = ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
               [0.033, 0.033, 0.067, 0.067])


def _rcnn_stage(iou, num):
    return dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou,
                      neg_iou_thr=iou, min_pos_iou=iou,
                      match_low_quality=False, ignore_iof_thr=-1),
        sampler=dict(type='RandomSampler', num=num, pos_fraction=0.25,
                     neg_pos_ub=-1, add_gt_as_proposals=True),
        mask_size=28, pos_weight=-1, debug=False)


model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,  # replaces the base's arch name '31B'
            channels=[16, 32, 64, 128],
            layers=[1, 1, 2, 1],
            kernel_sizes=[17, 15, 13, 13],
            small_kernel=5),
        drop_path_rate=0.1,
        norm_cfg=norm_cfg,
        with_cp=False,
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=channels),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        # Objects are 20-45 px: anchors of 16..256 px on strides 4..64
        # (the published 8 gives 32..512 for COCO images of 1333x800).
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=[
            dict(giou_bbox_head,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                                 target_means=[0., 0., 0., 0.],
                                 target_stds=stds)) for stds in target_stds
        ],
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(in_channels=channels, conv_out_channels=channels,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=[_rcnn_stage(iou, 64) for iou in (0.5, 0.6, 0.7)]),
    test_cfg=dict(
        rpn=dict(nms_pre=200, max_per_img=50),
        rcnn=dict(max_per_img=20)))

# The published multi-scale recipe at 96 px: short side 80..112, or a
# random crop of a 64..96 px image rescaled to 80..112.
ms_scales = [(80 + 8 * i, 200) for i in range(5)]  # 80, 88, ..., 112
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=ms_scales,
                  keep_ratio=True)],
            [
                dict(type='RandomChoiceResize',
                     scales=[(64, 200), (80, 200), (96, 200)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range',
                     crop_size=(48, 80), allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=ms_scales,
                     keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor')),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        filter_cfg=dict(filter_empty_gt=True, min_size=16),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=2e-3))
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=30),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[9, 11], gamma=0.1),
]
default_hooks = dict(
    logger=dict(interval=8),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1),
    visualization=dict(draw=False))
custom_hooks = [
    dict(type='lkmm.BaselineValHook', metric='coco/bbox_mAP'),
    dict(type='lkmm.IterationSeedHook'),
]
randomness = dict(seed=0, deterministic=True)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
