from .conv_bn import ConvBN, fuse_conv_bn
from .reparam_large_kernel import ReparamLargeKernelConv

__all__ = ['ConvBN', 'fuse_conv_bn', 'ReparamLargeKernelConv']
