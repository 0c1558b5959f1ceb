from .large_kernel_convnext import LargeKernelConvNeXt
from .replknet import RepLKNet

__all__ = ['LargeKernelConvNeXt', 'RepLKNet']
