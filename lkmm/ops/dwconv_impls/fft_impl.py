"""``'fft'``: FFTs (:mod:`lkmm.ops.fft_depthwise_conv`; cuFFT on CUDA);
float dtypes, half types transformed in fp32."""
import torch

from ..fft_depthwise_conv import fft_forward, fft_grad_input, fft_grad_weight
from .base import DepthwiseConvImpl, like_input, register_impl

__all__ = ['FFTImpl']


class FFTImpl(DepthwiseConvImpl):
    """The FFT parts, wherever ``torch.fft`` runs."""
    name = 'fft'
    dtypes = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

    def forward(self, x, weight, bias):
        out = fft_forward(x, weight)
        if bias is not None:
            out += bias.to(out.dtype).view(1, -1, 1, 1)
        return like_input(out, x)

    def grad_input(self, grad_out, x, weight):
        return like_input(fft_grad_input(grad_out, weight), x)

    def grad_weight(self, grad_out, x, weight):
        return fft_grad_weight(x, grad_out, weight)


register_impl(FFTImpl())
