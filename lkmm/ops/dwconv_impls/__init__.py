"""The depth-wise convolution implementations (:class:`DepthwiseConvImpl`),
registered in :data:`DWCONV_REGISTRY` in the order imported below.

Adding one: a new module here with a :class:`DepthwiseConvImpl` subclass
that ends in ``register_impl(MyImpl())``, and its import line in the list
below. The plan (:mod:`lkmm.ops.depthwise_conv_plan`), the rules'
validation, the switch's allowed values (when ``forcible``) and the op's
dispatch then know it.
"""
from .base import (
    DWCONV_REGISTRY,
    DepthwiseConvImpl,
    get_impl,
    is_channels_last,
    like_input,
    register_impl,
    to_channels_last,
)

# The registration list: one import per implementation, in table order
# (DWCONV_PART_IMPLS); each module registers itself when imported.
# isort: off
from . import torch_impl  # noqa: F401
from . import channels_last_impl  # noqa: F401
from . import fft_impl  # noqa: F401
from . import triton_impl  # noqa: F401
# isort: on

__all__ = [
    'DepthwiseConvImpl', 'DWCONV_REGISTRY', 'register_impl', 'get_impl',
    'is_channels_last', 'to_channels_last', 'like_input'
]
