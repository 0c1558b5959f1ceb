"""The interface every depth-wise convolution implementation follows, and
the table they register in.

Why: :func:`lkmm.ops.depthwise_conv2d` runs each part (forward, input
gradient, weight gradient) by ``get_impl(name).<part>(...)``; the planner
asks ``available(device, dtype)``. Nothing else names an implementation, so
adding one is one new module in this package and one import line in its
``__init__``.

Calling convention (the op keeps it; implementations rely on it):

* ``x``, ``weight``, ``bias`` and ``grad_out`` share one dtype (the op casts
  under autocast first);
* ``weight`` is the kernel *cropped* to the taps that meet the input
  (:func:`lkmm.ops.depthwise_conv._crop_to_reach`): odd ``KH x KW`` with
  ``KH <= 2H - 1`` and ``KW <= 2W - 1``;
* ``forward`` and ``grad_input`` return the input's shape, in the input's
  dtype and memory format (NCHW or channels-last), as ``F.conv2d`` does;
* ``grad_weight`` returns the gradient of that cropped ``weight`` (its
  shape, any floating dtype); the op pads it back to the full kernel.
"""
from typing import Optional, Tuple

import torch

from ..impl_switch import ImplRegistry

__all__ = [
    'DepthwiseConvImpl', 'DWCONV_REGISTRY', 'register_impl', 'get_impl',
    'is_channels_last', 'to_channels_last', 'like_input'
]


class DepthwiseConvImpl:
    """One implementation of the three parts of the stride-1 'same'
    depth-wise convolution (calling convention: module docstring).

    Why: one interface lets the planner and the op treat every kernel alike.

    Attributes:
        name (str): The name plans, rules and the switch use.
        forcible (bool): Whether the switch (``LKMM_DWCONV_IMPL``,
            :func:`lkmm.ops.depthwise_conv_impl`) may force it for every
            part; the others are chosen by rules only.
        dtypes (tuple[torch.dtype], optional): Input dtypes it computes
            (None: every dtype). Where it is forced on another dtype, torch's
            kernel runs instead.
    """
    name: str = ''
    forcible: bool = True
    dtypes: Optional[Tuple[torch.dtype, ...]] = None

    def takes(self, dtype: torch.dtype) -> bool:
        """Whether it computes inputs of ``dtype``.

        Args:
            dtype (torch.dtype): The input dtype.

        Returns:
            bool: True when :attr:`dtypes` is None or holds ``dtype``.
        """
        return self.dtypes is None or dtype in self.dtypes

    def unavailable_reason(self, device: torch.device,
                           dtype: torch.dtype) -> Optional[str]:
        """Why it cannot run here (a missing package, an unsupported
        device), or None.

        Args:
            device (torch.device): Device of the input.
            dtype (torch.dtype): Dtype of the input.

        Returns:
            str | None: A sentence for error messages, or None.
        """
        return None

    def available(self, device: torch.device, dtype: torch.dtype) -> bool:
        """Whether it can compute inputs of ``dtype`` on ``device``.

        Args:
            device (torch.device): Device of the input.
            dtype (torch.dtype): Dtype of the input.

        Returns:
            bool: :meth:`takes` the dtype and has no
            :meth:`unavailable_reason`.
        """
        return self.takes(dtype) and \
            self.unavailable_reason(torch.device(device), dtype) is None

    def forward(self, x: torch.Tensor, weight: torch.Tensor,
                bias: Optional[torch.Tensor]) -> torch.Tensor:
        """The output ``F.conv2d(x, weight, bias, padding=K // 2, groups=C)``.

        Args:
            x (Tensor): ``(N, C, H, W)`` input.
            weight (Tensor): ``(C, 1, KH, KW)`` cropped kernel.
            bias (Tensor, optional): ``(C,)``.

        Returns:
            Tensor: ``(N, C, H, W)`` in ``x``'s dtype and memory format.
        """
        raise NotImplementedError

    def grad_input(self, grad_out: torch.Tensor, x: torch.Tensor,
                   weight: torch.Tensor) -> torch.Tensor:
        """The gradient of the output with respect to ``x``.

        Args:
            grad_out (Tensor): ``(N, C, H, W)`` output gradient.
            x (Tensor): The forward input (its dtype and memory format).
            weight (Tensor): ``(C, 1, KH, KW)`` cropped kernel.

        Returns:
            Tensor: ``(N, C, H, W)``.
        """
        raise NotImplementedError

    def grad_weight(self, grad_out: torch.Tensor, x: torch.Tensor,
                    weight: torch.Tensor) -> torch.Tensor:
        """The gradient of the output with respect to ``weight``.

        Args:
            grad_out (Tensor): ``(N, C, H, W)`` output gradient.
            x (Tensor): ``(N, C, H, W)`` forward input.
            weight (Tensor): ``(C, 1, KH, KW)`` cropped kernel.

        Returns:
            Tensor: ``weight``'s shape, any floating dtype.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self.name!r})'


#: The depth-wise implementations, in the order of
#: :data:`lkmm.ops.DWCONV_PART_IMPLS` (the import order of this package).
DWCONV_REGISTRY: ImplRegistry[DepthwiseConvImpl] = ImplRegistry(
    'depth-wise conv')


def register_impl(impl: DepthwiseConvImpl) -> DepthwiseConvImpl:
    """Add ``impl`` to :data:`DWCONV_REGISTRY` (each implementation module
    ends with this call).

    Args:
        impl (DepthwiseConvImpl): The implementation.

    Returns:
        DepthwiseConvImpl: ``impl``.

    Raises:
        TypeError: ``impl`` is not a :class:`DepthwiseConvImpl`.
        ValueError: Its name is empty or taken.
    """
    if not isinstance(impl, DepthwiseConvImpl):
        raise TypeError(f'expected a DepthwiseConvImpl, got {impl!r}')
    return DWCONV_REGISTRY.register(impl)


def get_impl(name: str) -> DepthwiseConvImpl:
    """The registered depth-wise implementation called ``name``.

    Args:
        name (str): One of :data:`lkmm.ops.DWCONV_PART_IMPLS`.

    Returns:
        DepthwiseConvImpl: The implementation.

    Raises:
        ValueError: No such implementation (the message names them).
    """
    return DWCONV_REGISTRY.get(name)


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` is a 4-D channels-last (and not also NCHW) tensor."""
    return x.dim() == 4 and not x.is_contiguous() and \
        x.is_contiguous(memory_format=torch.channels_last)


def to_channels_last(t: torch.Tensor) -> torch.Tensor:
    """``t`` in channels-last memory format."""
    return t.contiguous(memory_format=torch.channels_last)


def like_input(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` in ``x``'s dtype and memory format (as F.conv2d returns)."""
    out = out.to(x.dtype)
    if is_channels_last(x):
        return to_channels_last(out)
    return out.contiguous()
