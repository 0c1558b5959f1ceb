from .conv_bn import ConvBN, fuse_conv_bn
from .depthwise_conv import DepthwiseConv2d
from .reparam_large_kernel import ReparamLargeKernelConv

__all__ = [
    'ConvBN', 'DepthwiseConv2d', 'fuse_conv_bn', 'ReparamLargeKernelConv'
]
