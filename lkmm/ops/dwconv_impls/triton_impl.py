"""``'triton'``: lkmm's Triton kernels (:mod:`lkmm.ops.triton_depthwise_conv`;
CUDA, or CPU under ``TRITON_INTERPRET=1``). ``triton`` itself is optional
and imported only when a part runs."""
from ..triton_depthwise_conv import (
    TRITON_DTYPES,
    triton_forward,
    triton_grad_input,
    triton_grad_weight,
    triton_unavailable_reason,
)
from .base import DepthwiseConvImpl, like_input, register_impl

__all__ = ['TritonImpl']


class TritonImpl(DepthwiseConvImpl):
    """The Triton kernels; fp32 / fp16 / bf16 with fp32 accumulation."""
    name = 'triton'
    dtypes = TRITON_DTYPES

    def unavailable_reason(self, device, dtype):
        return triton_unavailable_reason(device, dtype)

    def forward(self, x, weight, bias):
        return triton_forward(x, weight, bias)

    def grad_input(self, grad_out, x, weight):
        return like_input(triton_grad_input(grad_out, weight), x)

    def grad_weight(self, grad_out, x, weight):
        return triton_grad_weight(x, grad_out, weight.shape[-2:])


register_impl(TritonImpl())
