"""Build-free operators for large kernels."""
from .depthwise_conv import (DWCONV_IMPLS, depthwise_conv2d,
                             depthwise_conv_impl, fft_size,
                             get_depthwise_conv_impl, plan_depthwise_conv,
                             set_depthwise_conv_impl)

__all__ = [
    'DWCONV_IMPLS', 'depthwise_conv2d', 'depthwise_conv_impl', 'fft_size',
    'get_depthwise_conv_impl', 'plan_depthwise_conv',
    'set_depthwise_conv_impl'
]
