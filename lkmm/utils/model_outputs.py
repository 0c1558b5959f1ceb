"""Plain tensors out of any model: a bare backbone, or an OpenMMLab
classifier / segmentor / detector called with ``mode='tensor'`` on a batch
tensor. Shared by the counting, timing and deployment checks."""
from typing import List, Sequence

import torch
import torch.nn as nn

__all__ = ['flatten_tensors', 'TensorForward', 'as_tensor_module',
           'first_forward', 'random_batch', 'is_mmdet_detector']


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


class TensorForward(nn.Module):
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


def is_mmdet_detector(model: nn.Module) -> bool:
    try:
        from mmdet.models.detectors import BaseDetector
    except ImportError:
        return False
    return isinstance(model, BaseDetector)


def as_tensor_module(model: nn.Module) -> nn.Module:
    """``model`` as a module taking a batch tensor and returning tensors."""
    if hasattr(model, 'data_preprocessor'):
        return TensorForward(model)
    return model


def first_forward(module: nn.Module, model: nn.Module,
                  inputs: torch.Tensor):
    """Run ``module`` once, explaining failures of detectors."""
    try:
        return module(inputs)
    except Exception as err:
        if not is_mmdet_detector(model):
            raise
        # Some detectors (two-stage, DETR-like) need data samples with more
        # than the image shapes even in mode='tensor'.
        # TODO(lkmm): give TensorForward the metas these detectors need.
        raise NotImplementedError(
            f'{type(model).__name__}: its mode="tensor" forward failed on a '
            f'random batch ({type(err).__name__}: {err}); timing this '
            'detector needs data samples lkmm does not build yet. '
            'Classifiers, segmentors, single-stage detectors and bare '
            'backbones are supported') from err


def random_batch(input_shape: Sequence[int], batch_size: int,
                 device: torch.device, seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal ``(batch_size, *input_shape)`` batch."""
    if len(input_shape) != 3:
        raise ValueError(f'input_shape must be (C, H, W), got {input_shape}')
    gen = torch.Generator().manual_seed(seed)
    # Generated on the CPU so that every device sees the same numbers.
    return torch.randn(batch_size, *input_shape, generator=gen).to(device)
