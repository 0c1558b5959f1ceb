from .large_kernel_convnext import LargeKernelConvNeXt
from .parcnetv2 import ParCNetV2
from .replknet import RepLKNet

__all__ = ['LargeKernelConvNeXt', 'ParCNetV2', 'RepLKNet']
