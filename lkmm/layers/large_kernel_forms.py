"""One entry point for the large depth-wise kernel forms, and PeLK's partial
convolution.

Forms (:func:`build_large_kernel_conv`), each a depth-wise mixer with an
optional small re-parameterization branch that deploys, for inference, into
one dense KxK :class:`DepthwiseConv2d` with bias:

* ``'dense'`` -- RepLKNet's KxK (+ kxk) conv-BN,
  :class:`DenseLargeKernelConv` (:class:`ReparamLargeKernelConv`, same
  state-dict keys);
* ``'stripe'`` -- SLaK's Kxw + wxK (+ kxk), :class:`ReparamStripeConv`;
* ``'peripheral'`` -- PeLK's shared-parameter KxK (+ kxk) with the
  kernel-wise positional embedding, :class:`ReparamPeripheralConv`.

All are called as ``forward(x, pos_embed=None)``; only the peripheral form
takes a positional embedding.
"""
import math
from fractions import Fraction
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .peripheral_conv import ReparamPeripheralConv
from .reparam_large_kernel import ReparamLargeKernelConv
from .stripe_conv import ReparamStripeConv

__all__ = [
    'LARGE_KERNEL_FORMS', 'DenseLargeKernelConv', 'build_large_kernel_conv',
    'PartialConv'
]

#: Allowed values of ``form`` in :func:`build_large_kernel_conv`.
LARGE_KERNEL_FORMS = ('dense', 'stripe', 'peripheral')


class DenseLargeKernelConv(ReparamLargeKernelConv):
    """:class:`ReparamLargeKernelConv` (stride 1) with the common forms'
    call signature ``forward(x, pos_embed=None)``.

    Same arguments, structure and state-dict keys as its parent, so RepLKNet
    checkpoints and deployment apply unchanged.
    """

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pos_embed is not None:
            raise ValueError(
                'pos_embed (PeLK\'s kernel-wise positional embedding) is '
                'taken by the "peripheral" form only, not by "dense"')
        return super().forward(x)


def build_large_kernel_conv(form: str,
                            channels: int,
                            kernel_size: int,
                            small_kernel: Optional[int] = 5,
                            norm_cfg: dict = dict(type='BN'),
                            centre_size: int = 5,
                            sharing_grid: Optional[Sequence[int]] = None,
                            stripe_width: int = 5,
                            deploy: bool = False) -> nn.Module:
    """Build a depth-wise large-kernel mixer of the given form.

    The module has ``forward(x, pos_embed=None)``, ``switch_to_deploy()``,
    the ``deployed`` property and the attributes ``kernel_size`` and
    ``channels``; stride 1, 'same' zero padding.

    Args:
        form (str): ``'dense'`` (RepLKNet), ``'stripe'`` (SLaK) or
            ``'peripheral'`` (PeLK).
        channels (int): Input and output channels.
        kernel_size (int): K, odd.
        small_kernel (int, optional): Odd size of the parallel small
            re-parameterization kernel, smaller than K; None for none.
            Defaults to 5.
        norm_cfg (dict): Norm of every branch. Defaults to
            ``dict(type='BN')``.
        centre_size (int): Peripheral form: fine-grained centre width of the
            default sharing grid. Defaults to 5. Ignored by other forms.
        sharing_grid (Sequence[int], optional): Peripheral form: explicit
            sharing grid, full or half (outer -> centre, as the paper prints
            it); overrides ``centre_size``. Other forms refuse it.
        stripe_width (int): Stripe form: short side of the stripes.
            Defaults to 5. Ignored by other forms.
        deploy (bool): Build the deploy form directly. Defaults to False.

    Returns:
        nn.Module: :class:`DenseLargeKernelConv`, :class:`ReparamStripeConv`
        or :class:`ReparamPeripheralConv`.
    """
    if form not in LARGE_KERNEL_FORMS:
        raise ValueError(f'form must be one of {LARGE_KERNEL_FORMS}, got '
                         f'{form!r}')
    if sharing_grid is not None and form != 'peripheral':
        raise ValueError('sharing_grid applies to form "peripheral" only, '
                         f'got form {form!r} with sharing_grid '
                         f'{list(sharing_grid)}')
    if form == 'dense':
        return DenseLargeKernelConv(channels, kernel_size,
                                    small_kernel=small_kernel,
                                    norm_cfg=norm_cfg, deploy=deploy)
    if form == 'stripe':
        return ReparamStripeConv(channels, kernel_size,
                                 stripe_width=stripe_width,
                                 small_kernel=small_kernel,
                                 norm_cfg=norm_cfg, deploy=deploy)
    return ReparamPeripheralConv(channels, kernel_size,
                                 small_kernel=small_kernel,
                                 norm_cfg=norm_cfg, centre_size=centre_size,
                                 sharing_grid=sharing_grid, deploy=deploy)


class PartialConv(nn.Module):
    """Convolve the first channels, pass the rest through (PeLK Eqs. 4-6).

    ``X_conv, X_id = X[:, :g], X[:, g:]``; the output is
    ``cat(conv(X_conv), X_id)``, with ``g`` = :attr:`conv_channels`
    (:meth:`split_channels`).

    Args:
        conv (nn.Module): The mixer for the first ``g`` channels, called as
            ``conv(x)`` or, when a positional embedding is given,
            ``conv(x, pos_embed)``. If it has a ``channels`` attribute, it
            must equal ``g``.
        channels (int): Channels C of the input.
        ratio (float): Fraction of the channels convolved, in (0, 1].
            Defaults to 3/8 (PeLK).
    """

    def __init__(self, conv: nn.Module, channels: int, ratio: float = 3 / 8):
        super().__init__()
        self.conv_channels, self.id_channels = self.split_channels(
            channels, ratio)
        conv_width = getattr(conv, 'channels', None)
        if isinstance(conv_width, int) and conv_width != self.conv_channels:
            raise ValueError(
                f'conv has {conv_width} channels but PartialConv convolves '
                f'{self.conv_channels} of {channels} (ratio {ratio}); build '
                f'it with PartialConv.split_channels({channels}, {ratio})[0]')
        self.conv = conv
        self.channels = channels
        self.ratio = ratio

    @staticmethod
    def split_channels(channels: int, ratio: float) -> Tuple[int, int]:
        """``(convolved, identity)`` channel counts.

        The convolved count is ``channels * ratio`` rounded to the nearest
        integer, exact halves rounded down, computed exactly (no float
        error: ``100 * 0.29`` gives 29). Halves round down so that the count
        equals InceptionNeXt's ``int(channels * ratio)`` on every PeLK width
        (``docs/layers.md``).

        Args:
            channels (int): C, positive.
            ratio (float): In (0, 1].

        Returns:
            tuple[int, int]: ``(g, channels - g)``, ``g >= 1``.
        """
        if not isinstance(channels, int) or isinstance(channels, bool) or \
                channels < 1:
            raise ValueError(f'channels must be a positive int, got '
                             f'{channels!r}')
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) \
                or not 0 < ratio <= 1:
            raise ValueError(f'ratio must be a number in (0, 1], got '
                             f'{ratio!r}')
        exact = Fraction(channels) * Fraction(ratio)
        conv = math.ceil(exact - Fraction(1, 2))  # nearest, halves down
        if conv < 1:
            raise ValueError(
                f'ratio {ratio} of {channels} channels rounds to {conv} '
                'convolved channels; at least 1 is needed')
        return conv, channels - conv

    @property
    def kernel_size(self):
        """The wrapped conv's ``kernel_size``."""
        return self.conv.kernel_size

    @property
    def deployed(self) -> bool:
        """Whether the wrapped conv is deployed (True if it cannot be)."""
        return getattr(self.conv, 'deployed', True)

    def switch_to_deploy(self) -> None:
        """Deploy the wrapped conv, if it can be deployed."""
        if hasattr(self.conv, 'switch_to_deploy'):
            self.conv.switch_to_deploy()

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f'PartialConv expects an (N, {self.channels}, H, W) input, '
                f'got shape {tuple(x.shape)}')
        args = () if pos_embed is None else (pos_embed, )
        if self.id_channels == 0:
            return self.conv(x, *args)
        x_conv, x_id = x.split([self.conv_channels, self.id_channels], 1)
        return torch.cat([self.conv(x_conv, *args), x_id], 1)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, conv_channels='
                f'{self.conv_channels}, ratio={self.ratio}')
