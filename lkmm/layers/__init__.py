from .conv_bn import ConvBN, fuse_conv_bn
from .depthwise_conv import DepthwiseConv2d
from .gate_units import ChannelBGU, ParCBranch, ReleasedParCMixer, SpatialBGU
from .large_kernel_forms import (
                                 LARGE_KERNEL_FORMS,
                                 DenseLargeKernelConv,
                                 PartialConv,
                                 build_large_kernel_conv,
)
from .norms import L2LayerNorm2d, LayerNorm2d
from .oversized_conv import (
                                 LocalGlobalConv,
                                 OversizedConv2d,
                                 resize_oversized_kernel,
)
from .peripheral_conv import (
                                 KernelPositionalEmbedding,
                                 PeripheralConv2d,
                                 ReparamPeripheralConv,
                                 half_sharing_grid,
                                 kernel_pos_embed_bias,
                                 make_sharing_grid,
                                 materialize_shared_kernel,
                                 parse_sharing_grid,
                                 sharing_grid_index,
)
from .reparam_large_kernel import ReparamLargeKernelConv
from .stripe_conv import ReparamStripeConv

__all__ = [
    'ConvBN', 'DepthwiseConv2d', 'fuse_conv_bn', 'ReparamLargeKernelConv',
    'LARGE_KERNEL_FORMS', 'build_large_kernel_conv', 'DenseLargeKernelConv',
    'ReparamStripeConv', 'ReparamPeripheralConv', 'PeripheralConv2d',
    'KernelPositionalEmbedding', 'PartialConv', 'make_sharing_grid',
    'parse_sharing_grid', 'half_sharing_grid', 'sharing_grid_index',
    'materialize_shared_kernel', 'kernel_pos_embed_bias',
    'OversizedConv2d', 'LocalGlobalConv', 'resize_oversized_kernel',
    'ParCBranch', 'SpatialBGU',
    'ChannelBGU', 'ReleasedParCMixer', 'LayerNorm2d', 'L2LayerNorm2d'
]
