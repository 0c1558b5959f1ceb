# Each family's checkpoint mapping registers itself on import (see
# lkmm.utils.checkpoint_mapping).
from . import (  # noqa: F401
    large_kernel_convnext_checkpoint,
    parcnetv2_checkpoint,
    replknet_checkpoint,
)
from .large_kernel_convnext import LargeKernelConvNeXt
from .mobilenet_v2 import LargeKernelMobileNetV2
from .parcnetv2 import ParCNetV2
from .replknet import RepLKNet

__all__ = [
    'LargeKernelConvNeXt', 'LargeKernelMobileNetV2', 'ParCNetV2', 'RepLKNet'
]
