from .large_kernel_convnext import LargeKernelConvNeXt
from .mobilenet_v2 import LargeKernelMobileNetV2
from .parcnetv2 import ParCNetV2
from .replknet import RepLKNet

__all__ = [
    'LargeKernelConvNeXt', 'LargeKernelMobileNetV2', 'ParCNetV2', 'RepLKNet'
]
