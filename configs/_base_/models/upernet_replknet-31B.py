# RepLKNet-31B + UperNet, the segmentor of the official release
# (RepLKNet-pytorch segmentation/configs/RepLKNet_upernet.py): mmseg's stock
# UperNet (UPerHead with 512 channels and pool scales 1-2-3-6, auxiliary
# FCNHead on stage 3 with 256 channels and loss weight 0.4, SyncBN,
# whole-image test) on the lkmm backbone with all four stage outputs, drop
# path 0.5, SyncBN and activation checkpointing. ADE20K defaults: 150
# classes, 512x512 crops (other crops and Cityscapes' 19 classes are set by
# their configs).
# The backbone starts from an lkmm-format ImageNet classifier checkpoint
# (official ones through tools/model_converters/replknet_to_lkmm.py): set it
# with --cfg-options model.backbone.init_cfg.checkpoint=PATH. Training
# refuses to start without it; init_cfg=None trains from scratch.
_base_ = 'mmseg::_base_/models/upernet_r50.py'
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=(512, 512))
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='lkmm.RepLKNet',
        arch='31B',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.5,
        norm_cfg=norm_cfg,
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(in_channels=[128, 256, 512, 1024], num_classes=150),
    auxiliary_head=dict(in_channels=512, num_classes=150))
