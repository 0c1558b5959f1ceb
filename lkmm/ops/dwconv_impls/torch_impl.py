"""``'torch'``: PyTorch's own kernels on the tensors as they come (oneDNN on
CPU; on CUDA ATen's depth-wise kernel for NCHW fp32, cuDNN for
channels-last). The reference every other implementation is tested
against."""
from typing import Optional

import torch
import torch.nn.functional as F

from .base import DepthwiseConvImpl, register_impl

__all__ = ['TorchImpl', 'conv2d_same', 'direct_grad_input',
           'direct_grad_weight']


def conv2d_same(x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``F.conv2d`` with 'same' zero padding, one group per channel."""
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2),
                    groups=x.shape[1])


def direct_grad_input(grad_out: torch.Tensor,
                      weight: torch.Tensor) -> torch.Tensor:
    """The input gradient by torch's forward kernel.

    Why: the input gradient of a correlation is a convolution with the same
    kernel, so torch's fast forward kernel with the kernel flipped computes
    it (faster than torch's own backward on CPU).
    """
    return conv2d_same(grad_out, weight.flip(-2, -1), None)


def direct_grad_weight(grad_out: torch.Tensor, x: torch.Tensor,
                       weight: torch.Tensor) -> torch.Tensor:
    """The weight gradient by ``aten.convolution_backward``."""
    kh, kw = weight.shape[-2:]
    _, grad_w, _ = torch.ops.aten.convolution_backward(
        grad_out, x, weight, None, [1, 1], [kh // 2, kw // 2], [1, 1],
        False, [0, 0], x.shape[1], [False, True, False])
    return grad_w


class TorchImpl(DepthwiseConvImpl):
    """PyTorch's kernels, every dtype and device (the reference)."""
    name = 'torch'

    def forward(self, x, weight, bias):
        return conv2d_same(x, weight, bias)

    def grad_input(self, grad_out, x, weight):
        return direct_grad_input(grad_out, weight)

    def grad_weight(self, grad_out, x, weight):
        return direct_grad_weight(grad_out, x, weight)


register_impl(TorchImpl())
