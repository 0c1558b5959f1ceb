# lkmm.LargeKernelConvNeXt (PeLK / SLaK / ConvNeXt-31) + UperNet: mmseg's
# stock UperNet (upernet_r50.py: UPerHead with 512 channels and pool scales
# 1-2-3-6, auxiliary FCNHead on stage 3 with 256 channels and loss weight
# 0.4, SyncBN, whole-image test) on the backbone's four stage outputs, each
# with its output norm (gap_before_final_norm=False), SyncBN and activation
# checkpointing. Defaults: PeLK-T (widths 124-249-499-998) with ConvNeXt-T's
# drop path 0.4, ADE20K's 150 classes and 512x512 crops; the configs set
# the arch, the drop path and the head widths.
# The backbone starts from an lkmm-format ImageNet classifier checkpoint:
# set it with --cfg-options model.backbone.init_cfg.checkpoint=PATH.
# Training refuses to start without it; init_cfg=None trains from scratch.
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
