"""Parameters and FLOPs counted the way the papers count them.

Papers report the *inference* model: re-parameterized (deployed) backbone,
no training-only parts such as the auxiliary head of a segmentor. Counting
uses mmengine's maintained counter (``mmengine.analysis``).
"""
import copy
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info


def to_inference_form(model: nn.Module) -> nn.Module:
    """A deployed copy of ``model`` without training-only heads, in eval.

    Every submodule with ``switch_to_deploy`` is folded; an mmseg
    ``auxiliary_head`` is removed (mmseg's EncoderDecoder skips it when
    absent).
    """
    model = copy.deepcopy(model).eval()
    for m in list(model.modules()):
        if hasattr(m, 'switch_to_deploy') and m is not model:
            m.switch_to_deploy()
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None
    return model


def flatten_tensors(outputs) -> List[torch.Tensor]:
    """The tensors in a (nested) model output, in a stable order.

    Args:
        outputs: A tensor, or tuples / lists / dicts of them (what backbones
            and ``mode='tensor'`` calls return).

    Returns:
        list[Tensor]: The tensors, depth first (dict entries by sorted key).
    """
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in flatten_tensors(item)]
    return []


class _TensorForward(nn.Module):
    """Calls an OpenMMLab model in ``mode='tensor'`` (plain tensors out).

    Two-stage detectors need image meta information even in tensor mode
    (the RPN decodes proposals), so each image gets a data sample carrying
    the shapes of the input batch.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @staticmethod
    def _data_samples(x: torch.Tensor):
        from mmengine.structures import BaseDataElement
        h, w = x.shape[-2:]
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                    batch_input_shape=(h, w), scale_factor=(1., 1.))
        return [BaseDataElement(metainfo=meta) for _ in range(x.shape[0])]

    def forward(self, x):
        out = self.model(x, self._data_samples(x), mode='tensor')
        return tuple(flatten_tensors(out))


def inference_complexity(model: nn.Module,
                         input_shape: Tuple[int, int, int] = (3, 224, 224),
                         deploy: bool = True) -> dict:
    """Count params and FLOPs of ``model`` as the papers do.

    Args:
        model (nn.Module): A backbone, an OpenMMLab model (classifier,
            segmentor, detector; called with ``mode='tensor'``) or any module.
        input_shape (tuple): ``(C, H, W)`` of one input image.
        deploy (bool): Count the inference form (see
            :func:`to_inference_form`). Defaults to True.

    Returns:
        dict: ``params`` and ``flops`` (one multiply-add counts as one FLOP,
        as in the papers), plus the formatted strings ``params_str`` and
        ``flops_str``.
    """
    if deploy:
        model = to_inference_form(model)
    else:
        model = copy.deepcopy(model).eval()
    params = sum(p.numel() for p in model.parameters())
    if hasattr(model, 'data_preprocessor'):
        model = _TensorForward(model)
    with torch.no_grad():
        info = get_model_complexity_info(
            model, input_shape=input_shape, show_table=False,
            show_arch=False)
    return dict(params=params, flops=info['flops'],
                params_str=f'{params / 1e6:.2f}M',
                flops_str=f'{info["flops"] / 1e9:.2f}G')


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
