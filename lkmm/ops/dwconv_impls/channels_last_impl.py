"""``'channels_last'``: PyTorch's kernels after converting NCHW tensors to
channels-last (on CUDA this selects cuDNN's kernels). Chosen by CUDA plan
rules only: it is not a value of the switch."""
from .base import (
    DepthwiseConvImpl,
    like_input,
    register_impl,
    to_channels_last,
)
from .torch_impl import conv2d_same, direct_grad_input, direct_grad_weight

__all__ = ['ChannelsLastImpl']


class ChannelsLastImpl(DepthwiseConvImpl):
    """torch's kernels on channels-last copies; results in the input's
    memory format."""
    name = 'channels_last'
    forcible = False

    def forward(self, x, weight, bias):
        return like_input(conv2d_same(to_channels_last(x), weight, bias), x)

    def grad_input(self, grad_out, x, weight):
        return like_input(
            direct_grad_input(to_channels_last(grad_out), weight), x)

    def grad_weight(self, grad_out, x, weight):
        return direct_grad_weight(to_channels_last(grad_out),
                                  to_channels_last(x), weight)


register_impl(ChannelsLastImpl())
