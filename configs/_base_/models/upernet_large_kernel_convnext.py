# lkmm.LargeKernelConvNeXt (PeLK / SLaK / ConvNeXt-31) + mmseg's stock UperNet
# on the four stage outputs; defaults: PeLK-T, drop path 0.4, ADE20K's 150
# classes, 512x512 crops (configs/pelk/README.md, "ADE20K"). Set the
# lkmm-format ImageNet classifier (training refuses to start without it;
# init_cfg=None trains from scratch):
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmseg::_base_/models/upernet_r50.py'
custom_imports = dict(imports=['lkmm'], allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(size=(512, 512))
channels = [124, 249, 499, 998]  # PeLK-T: ConvNeXt-T/S widths x1.3
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='lkmm.LargeKernelConvNeXt',
        arch='pelk-t',
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.4,
        norm_cfg=norm_cfg,
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint=None,
                      prefix='backbone.')),
    decode_head=dict(in_channels=channels, num_classes=150),
    auxiliary_head=dict(in_channels=channels[2], num_classes=150))
