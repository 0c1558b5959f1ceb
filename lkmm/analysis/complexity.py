"""Parameters and FLOPs counted the way the papers count them.

Papers report the *inference* model: re-parameterized (deployed) backbone,
no training-only parts such as the auxiliary head of a segmentor. Counting
uses mmengine's maintained counter (``mmengine.analysis``).

Detectors are counted by the convention of mmdet 2.x ``forward_dummy`` (the
``tools/analysis_tools/get_flops.py`` of that era, behind the detection
FLOPs of RepLKNet, Swin, ConvNeXt, ...), see :class:`_DetectorDummyForward`.
"""
import copy
import math
import warnings
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info

from lkmm.models.deploy import switch_model_to_deploy
from lkmm.utils.model_outputs import TensorForward, flatten_tensors


def to_deploy_form(model: nn.Module) -> nn.Module:
    """A deployed copy of ``model`` without training-only heads, in eval.

    Every submodule with ``switch_to_deploy`` is deployed; an mmseg
    ``auxiliary_head`` is removed (mmseg's EncoderDecoder skips it when
    absent).
    """
    model = copy.deepcopy(model).eval()
    switch_model_to_deploy(model)
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None
    return model


#: RoIs that the mmdet 2.x convention sends through the bbox heads (the RPN
#: keeps 1000 proposals per image at test time) ...
NUM_DUMMY_PROPOSALS = 1000
#: ... and through the mask heads (a detector keeps 100 boxes per image).
NUM_DUMMY_MASK_ROIS = 100


def _mmdet_detector_kind(model: nn.Module) -> Optional[str]:
    """``'single_stage'``, ``'two_stage'`` or None for other models.

    None also for mmdet detectors whose heads the dummy forward does not
    know (DETR-like, HTC, SCNet, PointRend, ...): they keep ``mode='tensor'``.
    """
    try:
        from mmdet.models.detectors import (
            SingleStageDetector,
            TwoStageDetector,
        )
        from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
    except ImportError:  # mmdet not installed: not a detector
        return None
    if isinstance(model, SingleStageDetector):
        return 'single_stage'
    if not isinstance(model, TwoStageDetector) or not model.with_roi_head:
        return None
    roi_head = model.roi_head
    for base in (CascadeRoIHead, StandardRoIHead):
        if isinstance(roi_head, base):
            # Subclasses that change what a RoI goes through (HTC's
            # semantic/mask flow, SCNet, ...) are not covered.
            cls = type(roi_head)
            if cls._bbox_forward is base._bbox_forward and \
                    cls._mask_forward is base._mask_forward:
                return 'two_stage'
            return None
    return None


def _dummy_proposals(batch_size: int, height: int, width: int, num: int,
                     device) -> torch.Tensor:
    """``num`` fixed boxes per image as RoIs ``(batch_idx, x1, y1, x2, y2)``.

    Boxes of every scale (16 px to the short side) spread over the image, so
    the RoI extractor samples from all FPN levels. Their positions do not
    change any FLOP count; they are fixed only to make runs repeatable.
    """
    gen = torch.Generator().manual_seed(0)
    centre = torch.rand(num, 2, generator=gen) * torch.tensor(
        [float(width), float(height)])
    short = float(max(min(height, width), 16))
    size = 16. * (short / 16.)**torch.rand(num, 2, generator=gen)
    boxes = torch.cat([centre - size / 2, centre + size / 2], dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    rois = [
        torch.cat([boxes.new_full((num, 1), float(i)), boxes], dim=1)
        for i in range(batch_size)
    ]
    return torch.cat(rois).to(device)


class _DetectorDummyForward(nn.Module):
    """An mmdet 3.x detector run the way mmdet 2.x ``forward_dummy`` ran it.

    Published detection FLOPs ("at 1280x800") were counted that way: a
    single-stage detector as in ``mode='tensor'``; a two-stage one with
    ``num_proposals`` fixed RoIs through every bbox head and the first
    ``num_mask_rois`` through every mask head, instead of mmdet 3.x's real
    proposals. Supports ``StandardRoIHead`` and ``CascadeRoIHead`` (and
    subclasses that keep their ``_bbox_forward`` / ``_mask_forward``). The
    convention and the counts it reproduces: ``configs/replknet/README.md``,
    "COCO".

    Args:
        detector (nn.Module): An mmdet ``SingleStageDetector`` or
            ``TwoStageDetector``.
        num_proposals (int): RoIs per image through the bbox heads.
        num_mask_rois (int): RoIs per image through the mask heads.
    """

    def __init__(self, detector: nn.Module,
                 num_proposals: int = NUM_DUMMY_PROPOSALS,
                 num_mask_rois: int = NUM_DUMMY_MASK_ROIS):
        super().__init__()
        kind = _mmdet_detector_kind(detector)
        if kind is None:
            raise TypeError(
                f'{type(detector).__name__} is not a detector the mmdet 2.x '
                'dummy forward supports (single-stage, or two-stage with a '
                'Standard/Cascade RoI head)')
        if not 0 < num_mask_rois <= num_proposals:
            raise ValueError('need 0 < num_mask_rois <= num_proposals, got '
                             f'{num_mask_rois} and {num_proposals}')
        self.detector = detector
        self.kind = kind
        self.num_proposals = num_proposals
        self.num_mask_rois = num_mask_rois

    def _roi_head_forward(self, feats, rois) -> list:
        from mmdet.models.roi_heads import CascadeRoIHead
        roi_head = self.detector.roi_head
        batch_size = feats[0].shape[0]
        # The first num_mask_rois RoIs of every image.
        mask_rois = rois.view(batch_size, self.num_proposals,
                              5)[:, :self.num_mask_rois].reshape(-1, 5)
        outs = []
        if isinstance(roi_head, CascadeRoIHead):
            stages = range(roi_head.num_stages)
            if roi_head.with_bbox:
                for stage in stages:
                    res = roi_head._bbox_forward(stage, feats, rois)
                    outs += [res['cls_score'], res['bbox_pred']]
            if roi_head.with_mask:
                for stage in stages:
                    outs.append(roi_head._mask_forward(
                        stage, feats, mask_rois)['mask_preds'])
            return outs
        if roi_head.with_bbox:
            res = roi_head._bbox_forward(feats, rois)
            outs += [res['cls_score'], res['bbox_pred']]
        if roi_head.with_mask:
            outs.append(roi_head._mask_forward(feats, mask_rois)['mask_preds'])
        return outs

    def forward(self, x):
        det = self.detector
        feats = det.extract_feat(x)
        if self.kind == 'single_stage':
            return tuple(flatten_tensors(det.bbox_head(feats)))
        outs = []
        if det.with_rpn:
            outs.append(det.rpn_head(feats))
        rois = _dummy_proposals(x.shape[0], x.shape[-2], x.shape[-1],
                                self.num_proposals, x.device)
        outs += self._roi_head_forward(feats, rois)
        return tuple(flatten_tensors(outs))


def _check_detector_forward(detector_forward: str) -> None:
    if detector_forward not in ('mmdet2_dummy', 'tensor'):
        raise ValueError('detector_forward must be "mmdet2_dummy" or '
                         f'"tensor", got {detector_forward!r}')


def _counting_forward(model: nn.Module, detector_forward: str) -> nn.Module:
    """``model`` wrapped so that one tensor in gives tensors out."""
    if detector_forward == 'mmdet2_dummy' and \
            _mmdet_detector_kind(model) is not None:
        return _DetectorDummyForward(model)
    if hasattr(model, 'data_preprocessor'):
        if detector_forward == 'mmdet2_dummy' and _is_mmdet_detector(model):
            warnings.warn(
                f'{type(model).__name__}: no mmdet 2.x dummy forward for '
                'this detector; counting mode="tensor" (real proposals) '
                'instead')
        return TensorForward(model)
    return model


def inference_complexity(model: nn.Module,
                         input_shape: Tuple[int, int, int] = (3, 224, 224),
                         deploy: bool = True,
                         detector_forward: str = 'mmdet2_dummy') -> dict:
    """Count params and FLOPs of ``model`` as the papers do.

    Args:
        model (nn.Module): A backbone, an OpenMMLab model (classifier,
            segmentor, detector; called with ``mode='tensor'``) or any module.
        input_shape (tuple): ``(C, H, W)`` of one input image.
        deploy (bool): Count the deploy form (see
            :func:`to_deploy_form`). Defaults to True.
        detector_forward (str): How an mmdet detector runs:
            ``'mmdet2_dummy'`` (default) follows mmdet 2.x ``forward_dummy``
            as published detection FLOPs do (1000 fixed RoIs through each
            bbox head, the first 100 through each mask head; see
            :class:`_DetectorDummyForward`); ``'tensor'`` calls mmdet 3.x
            ``mode='tensor'`` (real proposals, mask heads on all of them).
            Detectors the dummy forward does not support (DETR-like, HTC,
            ...) use ``'tensor'`` with a warning. Other models ignore it.

    Returns:
        dict: ``params`` and ``flops`` (one multiply-add counts as one FLOP,
        as in the papers), plus the formatted strings ``params_str`` and
        ``flops_str``.
    """
    _check_detector_forward(detector_forward)
    if deploy:
        model = to_deploy_form(model)
    else:
        model = copy.deepcopy(model).eval()
    params = sum(p.numel() for p in model.parameters())
    model = _counting_forward(model, detector_forward)
    with torch.no_grad():
        info = get_model_complexity_info(
            model, input_shape=input_shape, show_table=False,
            show_arch=False)
    return dict(params=params, flops=info['flops'],
                params_str=f'{params / 1e6:.2f}M',
                flops_str=f'{info["flops"] / 1e9:.2f}G')


def _kernel_density(module: nn.Module) -> float:
    """Fraction of non-zero taps in the kernel the module's own FLOPs use.

    The kernel is the ``weight`` of a conv / linear (``ndim >= 2``); for a
    peripheral conv the materialized ``K x K`` kernel, since one zeroed
    shared parameter removes a whole cell of taps. Other modules: 1.
    """
    from lkmm.layers.peripheral_conv import PeripheralConv2d
    if isinstance(module, PeripheralConv2d):
        kernel = module.get_kernel()
    else:
        kernel = getattr(module, 'weight', None)
        if not isinstance(kernel, torch.Tensor) or kernel.ndim < 2:
            return 1.0
    if kernel.numel() == 0:
        return 1.0
    return float(torch.count_nonzero(kernel.detach())) / kernel.numel()


def extrapolated_flops(model: nn.Module,
                       input_shape: Tuple[int, int, int],
                       stride: int = 32,
                       exponents: Sequence[int] = (0, 2),
                       **kwargs) -> dict:
    """FLOPs at ``input_shape`` from a few small counts, extrapolated.

    Scale an input of fixed aspect ratio by ``s``. While every feature map
    divides the input exactly, a convolution's FLOPs grow as ``s^2`` (the
    area), parts of fixed size (a pyramid-pooling module's bins, a fixed
    number of RoIs) stay constant, and a kernel that grows with the map
    (ParCNetV2's oversized ``2H-1`` kernels, resized by interpolation) adds
    ``s^3`` and ``s`` terms: ``FLOPs(s) = sum_k c_k s^k`` over ``exponents``.
    Counting at ``s = 1 .. len(exponents)`` times the smallest input of that
    aspect ratio whose sides are multiples of ``stride`` gives the ``c_k``
    exactly (rational arithmetic), far faster than counting at full size
    (checked against full counts: ``configs/replknet/README.md``, "ADE20K").

    Args:
        model (nn.Module): As for :func:`inference_complexity`.
        input_shape (tuple): ``(C, H, W)`` to extrapolate to; H and W
            multiples of ``stride``.
        stride (int): The network's largest feature stride. Defaults to 32.
        exponents (Sequence[int]): Powers of ``s`` in the FLOP count:
            ``(0, 2)`` (the default) for fixed-size kernels, ``(0, 1, 2, 3)``
            for kernels that grow with the map.
        **kwargs: Passed to :func:`inference_complexity`.

    Returns:
        dict: ``flops`` (extrapolated, rounded to an integer), ``flops_str``
        and ``probes``: ``{(H, W): flops}`` of the counts.
    """
    from fractions import Fraction
    c, h, w = input_shape
    if h % stride or w % stride:
        raise ValueError(f'input_shape H and W must be multiples of stride '
                         f'{stride}, got {h}x{w}')
    exponents = sorted(set(int(e) for e in exponents))
    if not exponents or exponents[0] < 0:
        raise ValueError(f'exponents must be non-negative ints, got '
                         f'{exponents}')
    g = math.gcd(h // stride, w // stride)
    base = (h // g, w // g)
    scales = list(range(1, len(exponents) + 1))
    if scales[-1] * base[0] >= h:
        raise ValueError(
            f'{h}x{w} is too small to extrapolate to (the probes are '
            f'{base[0]}x{base[1]} times {scales}): count it directly')
    probes = {}
    for s in scales:
        size = (base[0] * s, base[1] * s)
        probes[size] = inference_complexity(model, (c, *size),
                                            **kwargs)['flops']
    # Solve sum_k c_k s^k = F(s) exactly (Gauss-Jordan on Fractions).
    rows = [[Fraction(s)**e for e in exponents] + [Fraction(f)]
            for s, f in zip(scales, probes.values())]
    n = len(exponents)
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    target = Fraction(h, base[0])
    flops = round(sum(rows[i][n] * target**e
                      for i, e in enumerate(exponents)))
    return dict(flops=flops, flops_str=f'{flops / 1e9:.2f}G', probes=probes)


def sparse_complexity(model: nn.Module,
                      input_shape: Tuple[int, int, int] = (3, 224, 224),
                      detector_forward: str = 'mmdet2_dummy') -> dict:
    """Params and FLOPs of a sparse model, counting only non-zero weights.

    How SLaK and PeLK report their models: parameters are the non-zero
    entries; every conv / linear costs its dense FLOPs times the fraction
    of its kernel that is non-zero (a multiply by a zero weight is skipped).
    Sparsify the model first, e.g. with
    :class:`lkmm.engine.SparseMasks` as ``DynamicSparsityHook`` does, or
    load a sparse checkpoint. The model is counted in the form given
    (train a sparse model and count it before ``switch_to_deploy``: deployment
    fills the zeros of stripe kernels), in eval mode and without an mmseg
    auxiliary head.

    FLOPs are attributed to modules by mmengine's ``FlopAnalyzer``; each
    module's own FLOPs (its total minus its children's) are scaled by
    the density of its own kernel (see :func:`_kernel_density`). FLOPs
    outside convs and linears (norms, pooling, upsampling) stay dense.

    Args:
        model (nn.Module): A backbone, an OpenMMLab model or any module.
        input_shape (tuple): ``(C, H, W)`` of one input image.
        detector_forward (str): As in :func:`inference_complexity`.

    Returns:
        dict: ``params`` (all entries), ``nonzero_params``, ``flops``
        (dense), ``sparse_flops``, the formatted ``nonzero_params_str``
        and ``sparse_flops_str``, and ``module_density``: the kernel
        density of every module whose count was scaled (density < 1).
    """
    from mmengine.analysis import FlopAnalyzer
    _check_detector_forward(detector_forward)
    model = copy.deepcopy(model).eval()
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None
    params = sum(p.numel() for p in model.parameters())
    nonzero = int(sum(int(torch.count_nonzero(p.detach()))
                      for p in model.parameters()))
    wrapped = _counting_forward(model, detector_forward)
    inputs = (torch.randn(1, *input_shape,
                          device=next(model.parameters()).device), )
    with torch.no_grad():
        analyzer = FlopAnalyzer(wrapped, inputs)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        per_module = analyzer.by_module()
        total = analyzer.total()
        sparse = float(total)
        densities = {}
        for name, module in wrapped.named_modules():
            density = _kernel_density(module)
            if density >= 1.0:
                continue
            own = per_module.get(name, 0) - sum(
                per_module.get(f'{name}.{child}' if name else child, 0)
                for child, _ in module.named_children())
            sparse -= (1.0 - density) * own
            densities[name] = density
    return dict(params=params, nonzero_params=nonzero, flops=total,
                sparse_flops=sparse,
                nonzero_params_str=f'{nonzero / 1e6:.2f}M',
                sparse_flops_str=f'{sparse / 1e9:.2f}G',
                module_density=densities)


def _is_mmdet_detector(model: nn.Module) -> bool:
    try:
        from mmdet.models.detectors import BaseDetector
    except ImportError:
        return False
    return isinstance(model, BaseDetector)


def _pipeline_shape(pipeline) -> Optional[Tuple[int, int]]:
    """``(H, W)`` the last resizing/cropping step of a pipeline produces."""
    shape = None
    for step in pipeline or []:
        kind = step.get('type', '') if isinstance(step, dict) else ''
        if kind == 'CenterCrop' and step.get('crop_size') is not None:
            size = step['crop_size']
            shape = (size, size) if isinstance(size, int) else \
                (size[1], size[0])  # mmpretrain crop_size is (w, h)
        elif kind in ('Resize', 'RandomResize', 'ResizeEdge') and \
                step.get('scale') is not None:
            scale = step['scale']
            # OpenMMLab scales are (w, h); ResizeEdge's int is the short edge.
            shape = (scale, scale) if isinstance(scale, int) else \
                (scale[1], scale[0])
    return shape


def config_input_shape(cfg) -> Tuple[Tuple[int, int], str]:
    """The ``(H, W)`` at which a config's model is evaluated, and why.

    Taken from the test pipeline (the last resize or crop, ``scale`` read as
    ``(w, h)`` like OpenMMLab does); 224x224 when the config has none.

    Args:
        cfg (Config): An mmpretrain, mmseg or mmdet config.

    Returns:
        tuple: ``((H, W), source)`` where ``source`` says where it came from.
    """
    candidates = [
        ('test_pipeline', cfg.get('test_pipeline')),
        ('test_dataloader.dataset.pipeline',
         cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline')),
    ]
    for source, pipeline in candidates:
        shape = _pipeline_shape(pipeline)
        if shape is not None:
            return shape, source
    return (224, 224), 'default'


def input_shape_from_cfg(cfg, shape: Optional[Sequence[int]] = None
                         ) -> Tuple[int, int, int]:
    """``(C, H, W)`` for a config: ``shape`` (H, W) if given, else the shape
    the test pipeline produces (see
    :func:`~lkmm.analysis.complexity.config_input_shape`); C from the
    backbone's ``in_channels`` (default 3).

    Args:
        cfg (Config): A model config.
        shape (Sequence[int], optional): ``(H, W)``.

    Returns:
        tuple[int, int, int]: ``(C, H, W)``.
    """
    if shape is None:
        shape, _ = config_input_shape(cfg)
    backbone = cfg.get('model', {}).get('backbone') or {}
    channels = backbone.get('in_channels', 3) if isinstance(
        backbone, dict) else 3
    return (int(channels), int(shape[0]), int(shape[1]))
