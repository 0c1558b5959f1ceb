"""Fast depth-wise KxK convolution for large kernels, no build step.

RepLKNet's first guideline (paper Sec. 3, Table 1) is that large depth-wise
kernels are cheap only if the convolution is implemented well; PyTorch's
CPU kernel is slow beyond 13 taps wide and its weight gradient is slow at
every size (figures in docs/depthwise_conv.md). :func:`depthwise_conv2d`
computes the stride-1 'same' depth-wise convolution in three parts --
forward, input gradient, weight gradient -- each by the implementation
(:mod:`lkmm.ops.dwconv_impls`) its plan names
(:func:`~lkmm.ops.depthwise_conv_plan.select_depthwise_conv_plan`, whose
docstring lists the precedence of the sources: ``impl=``, the switch
:func:`set_depthwise_conv_impl` / :func:`depthwise_conv_impl`,
``LKMM_DWCONV_IMPL``, CUDA rules, CPU heuristics). ``'torch'`` everywhere
is the reference.
"""
from typing import Mapping, Optional

import torch

from .depthwise_conv_plan import (
    DWCONV_IMPLS,
    DWCONV_PART_IMPLS,
    DWCONV_PARTS,
    depthwise_conv_impl,
    get_depthwise_conv_impl,
    plan_depthwise_conv,
    set_depthwise_conv_impl,
)
from .dwconv_impls import get_impl, is_channels_last
from .dwconv_impls.torch_impl import conv2d_same
from .fft_depthwise_conv import fft_size, kernel_reach

__all__ = [
    'DWCONV_IMPLS', 'DWCONV_PART_IMPLS', 'depthwise_conv2d',
    'depthwise_conv_part', 'plan_depthwise_conv',
    'set_depthwise_conv_impl', 'get_depthwise_conv_impl',
    'depthwise_conv_impl', 'fft_size'
]

# The implementation every plan falls back to; the op calls it directly
# (F.conv2d, autocast included) where the whole plan is its.
_REFERENCE = 'torch'


def _crop_to_reach(weight: torch.Tensor, shape) -> torch.Tensor:
    """The taps of ``weight`` that meet an ``H x W`` input (a view)."""
    kh, kw = weight.shape[-2:]
    rh = kernel_reach(shape[-2], kh)
    rw = kernel_reach(shape[-1], kw)
    return weight[..., kh // 2 - rh:kh // 2 + rh + 1,
                  kw // 2 - rw:kw // 2 + rw + 1]


def _forward_part(impl: str, x, weight, bias) -> torch.Tensor:
    """The forward by ``impl``, in ``x``'s dtype and memory format."""
    return get_impl(impl).forward(x, _crop_to_reach(weight, x.shape), bias)


def _grad_input_part(impl: str, grad_out, x, weight) -> torch.Tensor:
    """The input gradient by ``impl``."""
    return get_impl(impl).grad_input(grad_out, x,
                                     _crop_to_reach(weight, x.shape))


def _grad_weight_part(impl: str, grad_out, x, weight) -> torch.Tensor:
    """The weight gradient by ``impl``: computed for the cropped kernel,
    zero for the taps that never meet the input, in ``weight``'s dtype."""
    part = get_impl(impl).grad_weight(grad_out, x,
                                      _crop_to_reach(weight, x.shape))
    if part.shape == weight.shape:
        return part.to(weight.dtype)
    grad_w = torch.zeros_like(weight)
    _crop_to_reach(grad_w, x.shape).copy_(part)
    return grad_w


_PARTS = dict(forward=_forward_part, grad_input=_grad_input_part,
              grad_weight=_grad_weight_part)


def depthwise_conv_part(part: str, impl: str, x: torch.Tensor,
                        weight: torch.Tensor,
                        grad_out: Optional[torch.Tensor] = None
                        ) -> torch.Tensor:
    """One part of the convolution by one implementation (benchmarks and
    plan measurements time the parts separately).

    Args:
        part (str): ``'forward'``, ``'grad_input'`` or ``'grad_weight'``.
        impl (str): One of :data:`~lkmm.ops.DWCONV_PART_IMPLS`.
        x (Tensor): ``(N, C, H, W)`` forward input.
        weight (Tensor): ``(C, 1, KH, KW)``.
        grad_out (Tensor, optional): Output gradient (both gradients).

    Returns:
        Tensor: The output, the input gradient or the weight gradient.

    Raises:
        ValueError: Unknown ``impl`` or ``part``, or a gradient part
            without ``grad_out``.
    """
    get_impl(impl)  # a ValueError naming DWCONV_PART_IMPLS if unknown
    if part == 'forward':
        return _forward_part(impl, x, weight, None)
    if part not in _PARTS:
        raise ValueError(f"part must be 'forward', 'grad_input' or "
                         f"'grad_weight', got {part!r}")
    if grad_out is None:
        raise ValueError(f'{part} needs grad_out')
    return _PARTS[part](impl, grad_out, x, weight)


class _DepthwiseConv2dFunction(torch.autograd.Function):
    """Forward and gradients, each part by its planned implementation.

    ``plan`` maps each part to an implementation name (the dict of
    :func:`plan_depthwise_conv` or a :class:`DepthwiseConvPlan`). Every
    implementation runs on the kernel cropped to the taps that meet the
    input (:func:`_crop_to_reach`): same result, less work, and on CPU a
    kernel larger than the map then often fits oneDNN's fast path.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, plan: Mapping[str, str]):
        out = _forward_part(plan['forward'], x, weight, bias)
        ctx.save_for_backward(x, weight)
        ctx.plan = plan
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        need_in, need_w, need_b = ctx.needs_input_grad[:3]
        plan = ctx.plan
        grad_in = grad_w = grad_b = None
        if need_in:
            grad_in = _grad_input_part(plan['grad_input'], grad_out, x,
                                       weight)
        if need_w:
            grad_w = _grad_weight_part(plan['grad_weight'], grad_out, x,
                                       weight)
        if need_b and ctx.has_bias:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_in, grad_w, grad_b, None


def _autocast_dtype(device_type: str) -> Optional[torch.dtype]:
    """The autocast dtype for ``device_type`` when autocast is on."""
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4
        enabled = torch.is_autocast_enabled() if device_type == 'cuda' \
            else torch.is_autocast_cpu_enabled() if device_type == 'cpu' \
            else False
    if not enabled:
        return None
    try:
        return torch.get_autocast_dtype(device_type)
    except AttributeError:  # torch < 2.4
        return torch.get_autocast_gpu_dtype() if device_type == 'cuda' \
            else torch.get_autocast_cpu_dtype()


def _check_args(x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> None:
    if x.dim() != 4:
        raise ValueError(f'input must be 4-D (N, C, H, W), got shape '
                         f'{tuple(x.shape)}')
    c = x.shape[1]
    if weight.dim() != 4 or weight.shape[0] != c or weight.shape[1] != 1:
        raise ValueError(
            f'weight must have shape (C, 1, KH, KW) with C={c} (input '
            f'channels), got {tuple(weight.shape)}')
    kh, kw = weight.shape[-2:]
    if kh % 2 != 1 or kw % 2 != 1:
        raise ValueError(f'kernel size must be odd, got ({kh}, {kw})')
    if bias is not None and tuple(bias.shape) != (c, ):
        raise ValueError(f'bias must have shape ({c},), got '
                         f'{tuple(bias.shape)}')


def _reference_suffices(plan: Mapping[str, str], needs_grad: bool) -> bool:
    """Whether every part that runs is the reference's: then ``F.conv2d``
    itself runs (its own autograd and autocast, no custom Function)."""
    parts = DWCONV_PARTS if needs_grad else ('forward', )
    return all(plan[part] == _REFERENCE for part in parts)


def depthwise_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     bias: Optional[torch.Tensor] = None,
                     impl: Optional[str] = None) -> torch.Tensor:
    """Depth-wise convolution, stride 1, zero 'same' padding.

    Equals ``F.conv2d(x, weight, bias, padding=(KH // 2, KW // 2),
    groups=C)``; each part (forward, input and weight gradients) runs with
    the implementation :func:`plan_depthwise_conv` picks.

    Args:
        x (Tensor): ``(N, C, H, W)`` input (contiguous or channels-last).
            Under autocast it is computed in the autocast dtype, as
            ``F.conv2d`` would be.
        weight (Tensor): ``(C, 1, KH, KW)`` kernel, KH and KW odd.
        bias (Tensor, optional): ``(C,)`` bias.
        impl (str, optional): One of :data:`DWCONV_IMPLS`, above the switch
            and ``LKMM_DWCONV_IMPL`` (a module passes its ``impl=`` here
            unless it is ``'auto'``); the switch in effect when None.

    Returns:
        Tensor: ``(N, C, H, W)``, in the input's dtype and memory format.

    Raises:
        ValueError: Bad shapes, or ``impl`` not one of :data:`DWCONV_IMPLS`.
        RuntimeError: A forced implementation cannot run here.
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting() or \
            torch.onnx.is_in_onnx_export():
        # Traced graphs (FLOP counters, ONNX) must see a real convolution.
        return conv2d_same(x, weight, bias)
    _check_args(x, weight, bias)
    cast = _autocast_dtype(x.device.type) if x.is_floating_point() else None
    dtype = cast or x.dtype
    plan = plan_depthwise_conv(x.shape, weight.shape[-2:], x.device, dtype,
                               impl=impl, channels_last=is_channels_last(x))
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, bias))
    if _reference_suffices(plan, needs_grad):
        # F.conv2d applies autocast itself.
        return conv2d_same(x, weight, bias)
    if cast is not None:
        # What autocast does for F.conv2d: compute in the autocast dtype
        # (gradients flow back through the casts to the fp32 parameters).
        x, weight = x.to(cast), weight.to(cast)
        bias = None if bias is None else bias.to(cast)
    return _DepthwiseConv2dFunction.apply(x, weight, bias, plan)
