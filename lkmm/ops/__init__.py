"""Build-free operators for large kernels.

``import lkmm.ops`` needs torch alone (triton is imported when a Triton part
runs), so the kernels can be timed on a machine without OpenMMLab packages.
"""
from .depthwise_conv import depthwise_conv2d, depthwise_conv_part
from .depthwise_conv_plan import (
                                  CUDA_PLAN_RULES,
                                  DWCONV_IMPLS,
                                  DWCONV_PART_IMPLS,
                                  DWCONV_PARTS,
                                  PlanRule,
                                  cuda_plan_rules,
                                  depthwise_conv_impl,
                                  get_depthwise_conv_impl,
                                  load_plan_rules,
                                  plan_depthwise_conv,
                                  set_cuda_plan_rules,
                                  set_depthwise_conv_impl,
)
from .fft_depthwise_conv import fft_size
from .impl_switch import ImplSwitch
from .oversized_conv import (
                                  OVERSIZED_CONV_IMPLS,
                                  check_oversized_conv_impl,
                                  oversized_conv1d,
                                  oversized_conv1d_fft,
                                  oversized_conv_impl,
                                  plan_oversized_conv,
)
from .triton_depthwise_conv import triton_available

__all__ = [
    'DWCONV_IMPLS', 'DWCONV_PART_IMPLS', 'DWCONV_PARTS', 'CUDA_PLAN_RULES',
    'PlanRule', 'depthwise_conv2d', 'depthwise_conv_part',
    'depthwise_conv_impl', 'fft_size',
    'get_depthwise_conv_impl', 'plan_depthwise_conv',
    'set_depthwise_conv_impl', 'cuda_plan_rules', 'set_cuda_plan_rules',
    'load_plan_rules', 'triton_available', 'ImplSwitch',
    'OVERSIZED_CONV_IMPLS', 'oversized_conv1d', 'oversized_conv1d_fft',
    'plan_oversized_conv', 'oversized_conv_impl', 'check_oversized_conv_impl'
]
