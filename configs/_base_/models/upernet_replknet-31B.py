# RepLKNet-31B + UperNet, the segmentor of the official release
# (RepLKNet-pytorch segmentation/configs/RepLKNet_upernet.py), ADE20K defaults
# (configs/replknet/README.md, "ADE20K"). Set the lkmm-format ImageNet
# classifier (training refuses to start without it; init_cfg=None trains from
# scratch): --cfg-options model.backbone.init_cfg.checkpoint=PATH
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
