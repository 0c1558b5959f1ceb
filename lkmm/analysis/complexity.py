"""Parameters and FLOPs counted the way the papers count them.

Papers report the *inference* model: re-parameterized (deployed) backbone,
no training-only parts such as the auxiliary head of a segmentor. Counting
uses mmengine's maintained counter (``mmengine.analysis``).
"""
import copy
from typing import Tuple

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


class _TensorForward(nn.Module):
    """Calls an OpenMMLab model in ``mode='tensor'`` (plain tensors out)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x, mode='tensor')
        if isinstance(out, dict):
            out = tuple(out.values())
        return out


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
