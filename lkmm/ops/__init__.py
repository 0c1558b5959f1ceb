"""Build-free operators for large kernels.

``import lkmm.ops`` needs torch alone (triton is imported when a Triton part
runs), so the kernels can be timed on a machine without OpenMMLab packages.

Each op keeps its implementations in a table (:class:`ImplRegistry`:
:data:`DWCONV_REGISTRY` of :class:`DepthwiseConvImpl`,
:data:`OVERSIZED_REGISTRY`) and decides in one function
(:func:`select_depthwise_conv_plan`, :func:`select_oversized_conv_plan`)
by one shared precedence (:meth:`ImplSwitch.resolve`).
"""
from .depthwise_conv import depthwise_conv2d, depthwise_conv_part
from .depthwise_conv_plan import (
                                  CUDA_PLAN_RULES,
                                  DWCONV_IMPLS,
                                  DWCONV_PART_IMPLS,
                                  DWCONV_PARTS,
                                  PLAN_SOURCES,
                                  DepthwiseConvPlan,
                                  PlanRule,
                                  check_depthwise_conv_impl,
                                  cuda_plan_rules,
                                  depthwise_conv_impl,
                                  get_depthwise_conv_impl,
                                  load_plan_rules,
                                  plan_depthwise_conv,
                                  rules_summary,
                                  select_depthwise_conv_plan,
                                  set_cuda_plan_rules,
                                  set_depthwise_conv_impl,
)
from .dwconv_impls import DWCONV_REGISTRY, DepthwiseConvImpl
from .fft_depthwise_conv import fft_size
from .impl_switch import ImplRegistry, ImplSwitch
from .oversized_conv import (
                                  OVERSIZED_CONV_IMPLS,
                                  OVERSIZED_REGISTRY,
                                  OversizedConvImpl,
                                  OversizedConvPlan,
                                  check_oversized_conv_impl,
                                  oversized_conv1d,
                                  oversized_conv1d_fft,
                                  oversized_conv_impl,
                                  plan_oversized_conv,
                                  select_oversized_conv_plan,
)
from .triton_depthwise_conv import triton_available

__all__ = [
    'DWCONV_IMPLS', 'DWCONV_PART_IMPLS', 'DWCONV_PARTS', 'CUDA_PLAN_RULES',
    'PLAN_SOURCES', 'PlanRule', 'DepthwiseConvPlan', 'DepthwiseConvImpl',
    'DWCONV_REGISTRY', 'depthwise_conv2d', 'depthwise_conv_part',
    'depthwise_conv_impl', 'fft_size',
    'get_depthwise_conv_impl', 'plan_depthwise_conv',
    'select_depthwise_conv_plan', 'check_depthwise_conv_impl',
    'set_depthwise_conv_impl', 'cuda_plan_rules', 'set_cuda_plan_rules',
    'load_plan_rules', 'rules_summary', 'triton_available', 'ImplSwitch',
    'ImplRegistry', 'OVERSIZED_CONV_IMPLS', 'OVERSIZED_REGISTRY',
    'OversizedConvImpl', 'OversizedConvPlan', 'oversized_conv1d',
    'oversized_conv1d_fft', 'plan_oversized_conv',
    'select_oversized_conv_plan', 'oversized_conv_impl',
    'check_oversized_conv_impl'
]
