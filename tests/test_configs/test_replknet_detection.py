"""The COCO experiments of RepLKNet (paper Table 9) as mmdet 3.x configs.

Recipes are checked against the official release (RepLKNet-pytorch,
detection/configs); params and FLOPs of the inference model against the
paper. FLOPs follow the mmdet 2.x ``forward_dummy`` convention the paper
used (``lkmm.analysis.complexity._DetectorDummyForward``).
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config

import lkmm  # noqa: F401
from lkmm.analysis import inference_complexity, to_deploy_form
from lkmm.analysis.complexity import NUM_DUMMY_MASK_ROIS, NUM_DUMMY_PROPOSALS
from lkmm.engine.runner import build_model_from_cfg
from lkmm.utils.pretrained import check_pretrained_set, find_unset_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CASCADE_31B_1K = \
    'cascade-mask-rcnn_replknet-31B_in1k-pre_fpn_giou-4conv1f_ms-3x_coco.py'
CASCADE_31B_22K = \
    'cascade-mask-rcnn_replknet-31B_in22k-pre_fpn_giou-4conv1f_ms-3x_coco.py'
CASCADE_31L = \
    'cascade-mask-rcnn_replknet-31L_in22k-pre_fpn_giou-4conv1f_ms-3x_coco.py'
CASCADE_XL = ('cascade-mask-rcnn_replknet-XL_megdata73m-pre_fpn_giou-4conv1f'
              '_ms-3x_coco.py')
FCOS_31B = 'fcos_replknet-31B_in1k-pre_fpn_gn-head_ms-2x_coco.py'
CASCADES = [CASCADE_31B_1K, CASCADE_31B_22K, CASCADE_31L, CASCADE_XL]

# config: (arch, drop path, paper params, official-architecture params).
# Paper: Table 9 / official README. Official architecture: the release's
# backbone (re-parameterized) with the release's heads, counted the same way.
MODELS = {
    CASCADE_31B_1K: ('31B', 0.6, 137e6, 136.7e6),
    CASCADE_31B_22K: ('31B', 0.4, 137e6, 136.7e6),
    CASCADE_31L: ('31L', 0.7, 229e6, 229.1e6),
    CASCADE_XL: ('XL', 0.5, 392e6, 392.1e6),
    FCOS_31B: ('31B', 0.5, 87e6, 86.8e6),
}
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]
# The paper's "1280x800" (mmdet 2.x get_flops: H=1280, W=800); the count is
# the same either way round.
FLOPS_SHAPE = (3, 800, 1280)


def load(name):
    return Config.fromfile(osp.join(REPO, 'configs', 'replknet', name))


def test_configs_present():
    for name in MODELS:
        assert osp.isfile(osp.join(REPO, 'configs', 'replknet', name)), name


# --------------------------------------------------------------- recipes --
@pytest.mark.parametrize('name', CASCADES)
def test_cascade_recipe(name):
    cfg = load(name)
    arch, drop_path, _, _ = MODELS[name]
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports['imports'] == ['lkmm']
    model = cfg.model
    assert model.type == 'CascadeRCNN'
    backbone = model.backbone
    assert backbone.type == 'lkmm.RepLKNet' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.norm_cfg.type == 'SyncBN' and backbone.with_cp
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.prefix == 'backbone.'
    channels = {'31B': [128, 256, 512, 1024], '31L': [192, 384, 768, 1536],
                'XL': [256, 512, 1024, 2048]}[arch]
    assert model.neck.type == 'FPN' and model.neck.in_channels == channels
    assert (model.neck.out_channels, model.neck.num_outs) == (256, 5)

    # Three 4conv1fc heads with SyncBN, decoded-box GIoU regression.
    roi_head = model.roi_head
    assert roi_head.type == 'CascadeRoIHead' and roi_head.num_stages == 3
    assert list(roi_head.stage_loss_weights) == [1, 0.5, 0.25]
    stds = [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
            [0.033, 0.033, 0.067, 0.067]]
    assert len(roi_head.bbox_head) == 3
    for head, std in zip(roi_head.bbox_head, stds):
        assert head.type == 'Shared4Conv1FCBBoxHead'
        assert (head.conv_out_channels, head.fc_out_channels) == (256, 1024)
        assert head.reg_decoded_bbox and not head.reg_class_agnostic
        assert head.norm_cfg.type == 'SyncBN'
        assert (head.loss_bbox.type, head.loss_bbox.loss_weight) == (
            'GIoULoss', 10.0)
        assert head.loss_cls.type == 'CrossEntropyLoss'
        assert list(head.bbox_coder.target_stds) == std
        assert head.num_classes == 80
    assert roi_head.mask_head.type == 'FCNMaskHead'
    assert roi_head.mask_head.num_convs == 4
    assert model.test_cfg.rpn.max_per_img == NUM_DUMMY_PROPOSALS
    assert model.test_cfg.rcnn.max_per_img == NUM_DUMMY_MASK_ROIS

    # 3x: 36 epochs, AdamW 4e-4 / 0.05, steps at 27 and 33, no clipping.
    assert cfg.train_cfg.max_epochs == 36
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end,
            warmup.by_epoch) == ('LinearLR', 0.001, 500, False)
    assert (steps.type, list(steps.milestones), steps.gamma,
            steps.end) == ('MultiStepLR', [27, 33], 0.1, 36)
    wrapper = cfg.optim_wrapper
    opt = wrapper.optimizer
    assert wrapper.type == 'OptimWrapper'
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 4e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999) and 'momentum' not in opt
    assert wrapper.paramwise_cfg.norm_decay_mult == 0
    assert wrapper.get('clip_grad') is None
    assert cfg.train_dataloader.batch_size == (4 if arch == 'XL' else 1)

    # DETR-style multi-scale training with random crop.
    pipeline = cfg.train_dataloader.dataset.pipeline
    kinds = [step.type for step in pipeline]
    assert kinds == ['LoadImageFromFile', 'LoadAnnotations', 'RandomFlip',
                     'RandomChoice', 'PackDetInputs']
    assert pipeline[1].with_mask and pipeline[2].prob == 0.5
    plain, cropped = pipeline[3].transforms
    ms = [(s, 1333) for s in range(480, 801, 32)]
    assert len(plain) == 1 and plain[0].type == 'RandomChoiceResize'
    assert [tuple(s) for s in plain[0].scales] == ms and plain[0].keep_ratio
    assert [step.type for step in cropped] == [
        'RandomChoiceResize', 'RandomCrop', 'RandomChoiceResize']
    assert [tuple(s) for s in cropped[0].scales] == [(400, 1333),
                                                     (500, 1333),
                                                     (600, 1333)]
    assert (cropped[1].crop_type, tuple(cropped[1].crop_size),
            cropped[1].allow_negative_crop) == ('absolute_range', (384, 600),
                                                True)
    assert [tuple(s) for s in cropped[2].scales] == ms
    test_resize = [s for s in cfg.test_dataloader.dataset.pipeline
                   if s.type == 'Resize'][0]
    assert tuple(test_resize.scale) == (1333, 800) and test_resize.keep_ratio

    # Normalization: XL as its MegData-73M pre-training, the rest ImageNet.
    pre = model.data_preprocessor
    assert pre.bgr_to_rgb
    if arch == 'XL':
        assert backbone.norm_intermediate_features
        assert pre.mean == [127.5] * 3 and pre.std == [127.5] * 3
    else:
        assert not backbone.get('norm_intermediate_features', False)
        assert pre.mean == IMAGENET_MEAN and pre.std == IMAGENET_STD


def test_fcos_recipe():
    cfg = load(FCOS_31B)
    model = cfg.model
    assert cfg.default_scope == 'mmdet' and model.type == 'FCOS'
    assert cfg.custom_imports['imports'] == ['lkmm']
    backbone = model.backbone
    assert backbone.type == 'lkmm.RepLKNet' and backbone.arch == '31B'
    assert backbone.drop_path_rate == 0.5
    assert backbone.norm_cfg.type == 'SyncBN' and backbone.with_cp
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.init_cfg.type == 'Pretrained'
    # FPN from the second stage, P6/P7 from P5 (ReLU before them).
    neck = model.neck
    assert neck.in_channels == [128, 256, 512, 1024]
    assert (neck.start_level, neck.add_extra_convs, neck.num_outs,
            neck.relu_before_extra_convs) == (1, 'on_output', 5, True)
    # mmdet's plain FCOS head, as the release (mmdet 2.x FCOSHead defaults).
    head = model.bbox_head
    assert head.type == 'FCOSHead' and head.stacked_convs == 4
    assert list(head.strides) == [8, 16, 32, 64, 128]
    assert (head.norm_cfg.type, head.norm_cfg.num_groups) == ('GN', 32)
    assert not head.centerness_on_reg and not head.norm_on_bbox
    assert not head.center_sampling
    assert (head.loss_cls.type, head.loss_bbox.type,
            head.loss_centerness.type) == ('FocalLoss', 'IoULoss',
                                           'CrossEntropyLoss')
    pre = model.data_preprocessor
    assert pre.mean == IMAGENET_MEAN and pre.std == IMAGENET_STD
    assert pre.bgr_to_rgb
    # 2x: 24 epochs, AdamW 2e-4 / 0.05, clip 35, steps 16 / 22.
    assert cfg.train_cfg.max_epochs == 24
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.factor, warmup.end) == ('ConstantLR', 1 / 3,
                                                        500)
    assert (list(steps.milestones), steps.end) == ([16, 22], 24)
    wrapper = cfg.optim_wrapper
    opt = wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 2e-4, 0.05)
    assert tuple(opt.betas) == (0.9, 0.999) and 'momentum' not in opt
    assert dict(wrapper.paramwise_cfg) == dict(norm_decay_mult=0.)
    assert (wrapper.clip_grad.max_norm, wrapper.clip_grad.norm_type) == (35,
                                                                         2)
    # Multi-scale 640 / 800 short side.
    pipeline = cfg.train_dataloader.dataset.pipeline
    resize = [s for s in pipeline if s.type == 'RandomChoiceResize'][0]
    assert [tuple(s) for s in resize.scales] == [(1333, 640), (1333, 800)]
    assert cfg.train_dataloader.batch_size == 2


@pytest.mark.parametrize('name', list(MODELS))
def test_pretrained_checkpoint_must_be_set(name):
    cfg = load(name)
    assert find_unset_pretrained(cfg.model) == [
        'model.backbone.init_cfg.checkpoint']
    with pytest.raises(ValueError, match='init_cfg.checkpoint'):
        check_pretrained_set(cfg)


# ------------------------------------------------------ params vs paper --
@pytest.mark.parametrize('name', list(MODELS))
def test_params_match_paper(name):
    """Params of the inference model: paper +-1%, and the official
    architecture (release heads, deployed backbone) to 0.1M."""
    arch, _, paper, official = MODELS[name]
    model = build_model_from_cfg(load(name))
    params = sum(p.numel() for p in to_deploy_form(model).parameters())
    assert params == pytest.approx(paper, rel=0.01)
    assert params == pytest.approx(official, abs=0.1e6)
    # What the config built: SyncBN 4conv1fc box heads, XL's output norms.
    if name in CASCADES:
        for head in model.roi_head.bbox_head:
            assert len(head.shared_convs) == 4 and len(head.shared_fcs) == 1
            assert all(isinstance(conv.norm, nn.SyncBatchNorm)
                       for conv in head.shared_convs)
    output_norms = [getattr(model.backbone, f'norm{i}', None)
                    for i in range(4)]
    if arch == 'XL':
        assert all(isinstance(n, nn.SyncBatchNorm) for n in output_norms)
    else:
        assert output_norms == [None] * 4


# --------------------------------------- the detector FLOP convention ---
def tiny_cascade_cfg():
    """The 31B cascade config with a tiny backbone and 16-channel heads."""
    cfg = load(CASCADE_31B_1K)
    cfg.model.backbone.arch = dict(channels=[8, 8, 16, 16],
                                   layers=[1, 1, 1, 1],
                                   kernel_sizes=[7, 7, 7, 7], small_kernel=3)
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.in_channels = [8, 8, 16, 16]
    cfg.model.neck.out_channels = 16
    cfg.model.rpn_head.in_channels = cfg.model.rpn_head.feat_channels = 16
    roi = cfg.model.roi_head
    roi.bbox_roi_extractor.out_channels = 16
    roi.mask_roi_extractor.out_channels = 16
    for head in roi.bbox_head:
        head.in_channels = head.conv_out_channels = 16
        head.fc_out_channels = 32
    roi.mask_head.in_channels = roi.mask_head.conv_out_channels = 16
    return cfg


def flops_of(module, *inputs):
    with torch.no_grad():
        return get_model_complexity_info(
            module, inputs=inputs, show_table=False,
            show_arch=False)['flops']


class _FeaturesAndRPN(nn.Module):

    def __init__(self, detector):
        super().__init__()
        self.detector = detector

    def forward(self, x):
        feats = self.detector.extract_feat(x)
        cls_scores, bbox_preds = self.detector.rpn_head(feats)
        return tuple(cls_scores) + tuple(bbox_preds)


class _Composed(nn.Module):
    """A model's parts called in the order its ``mode='tensor'`` runs them
    (written here from mmpretrain's / mmseg's / mmdet's ``_forward``, not
    through lkmm's counting wrapper, which is what is being checked)."""

    def __init__(self, model, head: str):
        super().__init__()
        self.model = model
        self.head = head

    def forward(self, x):
        feats = self.model.extract_feat(x)
        out = getattr(self.model, self.head)(feats)
        if self.head == 'bbox_head':  # FCOS: (scores, boxes, centerness)
            return tuple(t for level in out for t in level)
        return out


def test_two_stage_flops_follow_mmdet2_dummy_forward():
    """backbone + neck + RPN head, then per stage the bbox head on 1000 RoIs
    and the mask head on 100 RoIs -- and nothing else."""
    model = build_model_from_cfg(tiny_cascade_cfg())
    model = to_deploy_form(model)
    x = torch.rand(1, 3, 64, 96)
    expected = flops_of(_FeaturesAndRPN(model), x)
    roi_head = model.roi_head
    for stage in range(roi_head.num_stages):
        expected += flops_of(roi_head.bbox_head[stage],
                             torch.rand(NUM_DUMMY_PROPOSALS, 16, 7, 7))
        expected += flops_of(roi_head.mask_head[stage],
                             torch.rand(NUM_DUMMY_MASK_ROIS, 16, 14, 14))
    assert inference_complexity(model, (3, 64, 96))['flops'] == expected


def test_single_stage_flops_are_tensor_mode():
    """FCOS: backbone + neck + head on the features (mode='tensor')."""
    cfg = load(FCOS_31B)
    cfg.model.backbone.arch = dict(channels=[8, 8, 16, 16],
                                   layers=[1, 1, 1, 1],
                                   kernel_sizes=[7, 7, 7, 7], small_kernel=3)
    cfg.model.backbone.init_cfg = None
    cfg.model.neck.in_channels = [8, 8, 16, 16]
    cfg.model.neck.out_channels = 32
    cfg.model.bbox_head.in_channels = cfg.model.bbox_head.feat_channels = 32
    model = to_deploy_form(build_model_from_cfg(cfg))
    # Large enough for GroupNorm on P7 (stride 128).
    x = torch.rand(1, 3, 128, 192)
    tensor_mode = flops_of(_Composed(model, 'bbox_head'), x)
    assert inference_complexity(model, (3, 128, 192))['flops'] == tensor_mode


def test_classifier_and_segmentor_flops_unchanged():
    """The detector path leaves classifiers and segmentors on the previous
    count (``mode='tensor'`` of the deployed model)."""
    for path, head in (('configs/demo/replknet-tiny_shapes-cls.py', 'head'),
                       ('configs/demo/upernet_replknet-tiny_shapes.py',
                        'decode_head')):
        size = 64
        model = build_model_from_cfg(Config.fromfile(osp.join(REPO, path)))
        before = flops_of(_Composed(to_deploy_form(model), head),
                          torch.rand(1, 3, size, size))
        assert before > 0
        assert inference_complexity(model, (3, size, size))['flops'] == before
    with pytest.raises(ValueError, match='detector_forward'):
        inference_complexity(model, (3, 64, 64), detector_forward='x')


# ------------------------------------------------------- FLOPs vs paper --
@pytest.mark.slow
@pytest.mark.parametrize('name,paper', [
    (CASCADE_31B_1K, 965e9),
    pytest.param(FCOS_31B, 437e9, marks=pytest.mark.heavy),
])
def test_flops_match_paper(name, paper):
    """Paper Table 9 at 1280x800, +-3% (31L / XL are params-only: their
    counts take minutes on a CPU)."""
    model = build_model_from_cfg(load(name))
    info = inference_complexity(model, FLOPS_SHAPE)
    assert info['flops'] == pytest.approx(paper, rel=0.03)
    if name == FCOS_31B:  # lkmm's full count (README)
        assert info['flops'] == pytest.approx(434.2e9, abs=0.05e9)


@pytest.mark.slow
def test_fcos_flops_from_a_small_probe():
    """FCOS is convolutions only (no fixed-size part): at sides that are
    multiples of its largest stride (128) every level divides exactly and
    the count is the area times a constant (128x128 and 256x256 give the
    same 434.1116G at 1280x800). At 1280x800 P6 and P7 round up (13x20,
    7x10), which the full count (434.2G, ``-m heavy``) holds and the
    scaled one cannot: 0.02% apart. Paper Table 9: 437G."""
    model = build_model_from_cfg(load(FCOS_31B))
    probe = (3, 128, 128)
    with torch.no_grad():
        flops = inference_complexity(model, probe)['flops']
    flops *= FLOPS_SHAPE[1] * FLOPS_SHAPE[2] / (probe[1] * probe[2])
    assert flops == pytest.approx(434.1116e9, rel=1e-5)
    assert flops == pytest.approx(434.2e9, rel=5e-4)
    assert flops == pytest.approx(437e9, rel=0.03)
