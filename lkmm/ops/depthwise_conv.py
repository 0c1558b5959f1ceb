"""Fast depth-wise KxK convolution for large kernels, no build step.

RepLKNet's first guideline (paper Sec. 3, Table 1) is that large depth-wise
kernels are cheap only if the convolution is implemented well. On CPU,
PyTorch's (oneDNN) depth-wise kernel is fast while the kernel is at most 13
wide, then drops to ~10 GFLOP/s, and its weight gradient is slow for every
kernel size. :func:`depthwise_conv2d` computes the stride-1 'same'
depth-wise convolution in three parts -- forward, input gradient, weight
gradient -- each with the implementation :func:`plan_depthwise_conv`
(:mod:`lkmm.ops.depthwise_conv_plan`) picks for the shape, device and
dtype: torch's kernel (``F.conv2d``), torch's kernel on channels-last
tensors (cuDNN on CUDA), FFTs (:mod:`lkmm.ops.fft_depthwise_conv`) or
lkmm's Triton kernels (:mod:`lkmm.ops.triton_depthwise_conv`).
``'torch'`` everywhere is the reference. The choice can be forced with
:func:`set_depthwise_conv_impl`, the context manager
:func:`depthwise_conv_impl` or the environment variable ``LKMM_DWCONV_IMPL``
(``auto`` | ``torch`` | ``fft`` | ``triton``).
"""
from typing import Optional

import torch
import torch.nn.functional as F

from .depthwise_conv_plan import (
    DWCONV_IMPLS,
    DWCONV_PART_IMPLS,
    depthwise_conv_impl,
    get_depthwise_conv_impl,
    plan_depthwise_conv,
    set_depthwise_conv_impl,
)
from .fft_depthwise_conv import (
    fft_forward,
    fft_grad_input,
    fft_grad_weight,
    fft_size,
    kernel_reach,
)
from .triton_depthwise_conv import (
    triton_forward,
    triton_grad_input,
    triton_grad_weight,
)

__all__ = [
    'DWCONV_IMPLS', 'depthwise_conv2d', 'depthwise_conv_part',
    'plan_depthwise_conv',
    'set_depthwise_conv_impl', 'get_depthwise_conv_impl',
    'depthwise_conv_impl', 'fft_size'
]


def _crop_to_reach(weight: torch.Tensor, shape) -> torch.Tensor:
    """The taps of ``weight`` that meet an ``H x W`` input (a view)."""
    kh, kw = weight.shape[-2:]
    rh = kernel_reach(shape[-2], kh)
    rw = kernel_reach(shape[-1], kw)
    return weight[..., kh // 2 - rh:kh // 2 + rh + 1,
                  kw // 2 - rw:kw // 2 + rw + 1]


def _torch_forward(x, weight, bias):
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2),
                    groups=x.shape[1])


def _direct_grad_input(grad_out, weight):
    # The input gradient of a correlation is a convolution with the same
    # kernel: torch's fast forward kernel with the kernel flipped.
    return _torch_forward(grad_out, weight.flip(-2, -1), None)


def _direct_grad_weight(grad_out, x, weight):
    kh, kw = weight.shape[-2:]
    _, grad_w, _ = torch.ops.aten.convolution_backward(
        grad_out, x, weight, None, [1, 1], [kh // 2, kw // 2], [1, 1],
        False, [0, 0], x.shape[1], [False, True, False])
    return grad_w


def _is_channels_last(x: torch.Tensor) -> bool:
    return x.dim() == 4 and not x.is_contiguous() and \
        x.is_contiguous(memory_format=torch.channels_last)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def _like_input(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` in ``x``'s dtype and memory format (as F.conv2d returns)."""
    out = out.to(x.dtype)
    if _is_channels_last(x):
        return _channels_last(out)
    return out.contiguous()


def _forward_part(impl, x, weight, bias):
    """The forward by ``impl``, in ``x``'s dtype and memory format."""
    cropped = _crop_to_reach(weight, x.shape)
    if impl == 'torch':
        return _torch_forward(x, cropped, bias)
    if impl == 'channels_last':
        return _like_input(_torch_forward(_channels_last(x), cropped, bias),
                           x)
    if impl == 'triton':
        return triton_forward(x, cropped, bias)
    out = fft_forward(x, weight)
    if bias is not None:
        out += bias.to(out.dtype).view(1, -1, 1, 1)
    return _like_input(out, x)


def _grad_input_part(impl, grad_out, x, weight):
    cropped = _crop_to_reach(weight, x.shape)
    if impl == 'torch':
        return _direct_grad_input(grad_out, cropped)
    if impl == 'channels_last':
        return _like_input(
            _direct_grad_input(_channels_last(grad_out), cropped), x)
    if impl == 'triton':
        return _like_input(triton_grad_input(grad_out, cropped), x)
    return _like_input(fft_grad_input(grad_out, weight), x)


def _grad_weight_part(impl, grad_out, x, weight):
    if impl == 'fft':
        return fft_grad_weight(x, grad_out, weight).to(weight.dtype)
    cropped = _crop_to_reach(weight, x.shape)
    if impl == 'triton':
        part = triton_grad_weight(x, grad_out, cropped.shape[-2:])
    elif impl == 'channels_last':
        part = _direct_grad_weight(_channels_last(grad_out),
                                   _channels_last(x), cropped)
    else:
        part = _direct_grad_weight(grad_out, x, cropped)
    if part.shape == weight.shape:
        return part.to(weight.dtype)
    grad_w = torch.zeros_like(weight)
    _crop_to_reach(grad_w, x.shape).copy_(part)
    return grad_w


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
    """
    if impl not in DWCONV_PART_IMPLS:
        raise ValueError(f'impl must be one of {DWCONV_PART_IMPLS}, got '
                         f'{impl!r}')
    if part == 'forward':
        return _forward_part(impl, x, weight, None)
    if part not in ('grad_input', 'grad_weight'):
        raise ValueError(f"part must be 'forward', 'grad_input' or "
                         f"'grad_weight', got {part!r}")
    if grad_out is None:
        raise ValueError(f'{part} needs grad_out')
    if part == 'grad_input':
        return _grad_input_part(impl, grad_out, x, weight)
    return _grad_weight_part(impl, grad_out, x, weight)


class _DepthwiseConv2dFunction(torch.autograd.Function):
    """Forward and gradients, each part by its planned implementation.

    The direct parts ('torch', 'channels_last', 'triton') run on the kernel
    cropped to the taps that meet the input (:func:`_crop_to_reach`): same
    result, less work, and on CPU a kernel larger than the map then often
    fits oneDNN's fast path.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, plan):
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


def depthwise_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     bias: Optional[torch.Tensor] = None) -> torch.Tensor:
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

    Returns:
        Tensor: ``(N, C, H, W)``, in the input's dtype and memory format.
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting() or \
            torch.onnx.is_in_onnx_export():
        # Traced graphs (FLOP counters, ONNX) must see a real convolution.
        return _torch_forward(x, weight, bias)
    _check_args(x, weight, bias)
    cast = _autocast_dtype(x.device.type) if x.is_floating_point() else None
    dtype = cast or x.dtype
    plan = plan_depthwise_conv(x.shape, weight.shape[-2:], x.device, dtype,
                               channels_last=_is_channels_last(x))
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, bias))
    if plan['forward'] == 'torch' and (
            not needs_grad or all(v == 'torch' for v in plan.values())):
        # F.conv2d applies autocast itself.
        return _torch_forward(x, weight, bias)
    if cast is not None:
        # What autocast does for F.conv2d: compute in the autocast dtype
        # (gradients flow back through the casts to the fp32 parameters).
        x, weight = x.to(cast), weight.to(cast)
        bias = None if bias is None else bias.to(cast)
    return _DepthwiseConv2dFunction.apply(x, weight, bias, plan)
