"""Peripheral convolution and kernel-wise positional embedding (PeLK, Sec. 4).

A large dense KxK depth-wise kernel parameterized by a small ``k' x k'`` one
through a *sharing grid* (Eqs. 1-2: fine cells in the centre, growing
outward), so the parameters grow as ``O(log K)``. Grids are written in full
or as the half the paper prints (outermost cell first). Eq. 3's positional
embedding is exactly a per-channel bias (:func:`kernel_pos_embed_bias`).
The derivation and the paper's grids: ``docs/layers.md``.
"""
from types import SimpleNamespace
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from lkmm.ops import depthwise_conv2d

from .conv_bn import ConvBN, fuse_conv_bn
from .depthwise_conv import DepthwiseConv2d
from .reparam_large_kernel import check_small_kernel, fuse_centred_branches

__all__ = [
    'make_sharing_grid', 'parse_sharing_grid', 'half_sharing_grid',
    'sharing_grid_index', 'materialize_shared_kernel', 'kernel_pos_embed_bias',
    'KernelPositionalEmbedding', 'PeripheralConv2d', 'ReparamPeripheralConv'
]


def _check_odd(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or \
            value < 1 or value % 2 != 1:
        raise ValueError(f'{name} must be a positive odd int, got {value!r}')


def make_sharing_grid(kernel_size: int,
                      centre_size: int = 5,
                      base: int = 2) -> List[int]:
    """PeLK's exponentially growing sharing grid (Eq. 2), in full.

    Per side, outward from the centre pixel: ``centre_size // 2`` cells of 1
    (the fine-grained centre), then cells of ``base ** 1, base ** 2, ...`` as
    long as they fit in the ``kernel_size // 2`` positions of the side. The
    positions left over form the outermost cell if it is at least half the
    previous cell; a smaller remainder is merged into the previous cell. The
    result sums to ``kernel_size`` and is symmetric.

    It reproduces every grid the paper prints (``docs/layers.md``).

    Args:
        kernel_size (int): K, odd.
        centre_size (int): Width of the fine-grained centre, odd and at most
            K. Defaults to 5 (PeLK; PeLK-101 uses 7).
        base (int): Growth factor m of the cells; 1 gives all ones (a dense
            kernel). Defaults to 2.

    Returns:
        list[int]: The full grid, ``k'`` cells.
    """
    _check_odd('kernel_size', kernel_size)
    _check_odd('centre_size', centre_size)
    if centre_size > kernel_size:
        raise ValueError(f'centre_size ({centre_size}) must not exceed '
                         f'kernel_size ({kernel_size})')
    if not isinstance(base, int) or isinstance(base, bool) or base < 1:
        raise ValueError(f'base must be an int >= 1, got {base!r}')
    half = kernel_size // 2
    side = [1] * (centre_size // 2)  # centre -> outside, centre pixel apart
    used = len(side)
    n = 1
    while used + base ** n <= half:
        side.append(base ** n)
        used += base ** n
        n += 1
    rest = half - used
    if rest > 0:
        if side and 2 * rest < side[-1]:
            side[-1] += rest  # too thin for a cell of its own
        else:
            side.append(rest)
    return side[::-1] + [1] + side


def parse_sharing_grid(grid: Sequence[int], kernel_size: int) -> List[int]:
    """Validate an explicit sharing grid and return it in full.

    Accepts the full grid (sums to K) or the half grid the paper prints,
    outermost cell first and ending with the centre cell (``2 * sum(half) -
    half[-1] == K``). The two cannot be confused: both sums match only for a
    single cell ``[K]``, which reads the same either way.

    Example (K=33): ``[1] * 17`` is the dense 33x33 kernel.

    Args:
        grid (Sequence[int]): Positive cell sizes.
        kernel_size (int): K, odd.

    Returns:
        list[int]: The full, symmetric grid.
    """
    _check_odd('kernel_size', kernel_size)
    cells = list(grid) if isinstance(grid, (list, tuple)) else None
    if not cells or any(not isinstance(s, int) or isinstance(s, bool)
                        or s < 1 for s in cells):
        raise ValueError('sharing_grid must be a non-empty list of positive '
                         f'ints, got {grid!r}')
    if sum(cells) == kernel_size:
        full = cells
    elif 2 * sum(cells) - cells[-1] == kernel_size:
        full = cells + cells[-2::-1]
    else:
        raise ValueError(
            f'sharing_grid {cells} does not fit kernel_size {kernel_size}: '
            f'as a full grid it covers {sum(cells)} positions, as a half '
            f'grid (outer -> centre) {2 * sum(cells) - cells[-1]}')
    if full != full[::-1]:
        raise ValueError(f'sharing_grid must be symmetric about the centre '
                         f'cell, got {cells}')
    if len(full) % 2 != 1:
        raise ValueError(f'sharing_grid must have a centre cell (odd '
                         f'length), got {cells}')
    return full


def half_sharing_grid(grid: Sequence[int]) -> List[int]:
    """The half of a full symmetric grid that the paper prints: outermost
    cell first, ending with the centre cell."""
    return list(grid)[:len(grid) // 2 + 1]


def sharing_grid_index(grid: Sequence[int]) -> torch.Tensor:
    """For each of the K positions along an axis, the index of its cell.

    Args:
        grid (Sequence[int]): Full grid.

    Returns:
        Tensor: ``(K,)`` int64, e.g. ``[0, 0, 1, 2, 2]`` for ``[2, 1, 2]``.
    """
    return torch.repeat_interleave(torch.arange(len(grid)),
                                   torch.tensor(list(grid)))


def materialize_shared_kernel(weight: torch.Tensor,
                              index: torch.Tensor) -> torch.Tensor:
    """The dense kernel of Eq. 1: ``w(x, y) = w_theta(index[x], index[y])``.

    Sharing is separable per axis, so two ``index_select`` calls build it;
    their backward sums the gradient of every position into its cell.

    Args:
        weight (Tensor): ``(C, 1, k', k')`` shared parameters.
        index (Tensor): ``(K,)`` cell index per position
            (:func:`sharing_grid_index`), on ``weight``'s device.

    Returns:
        Tensor: ``(C, 1, K, K)``.
    """
    return weight.index_select(-2, index).index_select(-1, index)


def kernel_pos_embed_bias(kernel: torch.Tensor,
                          pos_embed: torch.Tensor) -> torch.Tensor:
    """Eq. 3's positional term ``b_c = sum_ij w_c(i, j) * h_c(i, j)``.

    ``conv(X, w) + b`` equals Eq. 3 exactly at every output position,
    borders included (``docs/layers.md``).

    Args:
        kernel (Tensor): ``(C, 1, K, K)`` kernel w.
        pos_embed (Tensor): ``(C, K, K)`` embedding h.

    Returns:
        Tensor: ``(C,)``.
    """
    return (kernel.flatten(1) * pos_embed.flatten(1)).sum(1)


def _check_pos_embed(pos_embed, channels: int, kernel_size: int):
    """The ``(C, K, K)`` tensor of ``pos_embed`` (a tensor or a
    :class:`KernelPositionalEmbedding`), with a clear error on mismatch."""
    if isinstance(pos_embed, KernelPositionalEmbedding):
        pos_embed = pos_embed.weight
    expected = (channels, kernel_size, kernel_size)
    if not isinstance(pos_embed, torch.Tensor) or \
            tuple(pos_embed.shape) != expected:
        got = tuple(pos_embed.shape) if isinstance(
            pos_embed, torch.Tensor) else type(pos_embed).__name__
        raise ValueError(
            f'pos_embed must be a tensor of shape (C, K, K) = {expected} '
            f'(the KernelPositionalEmbedding of this conv\'s stage), got '
            f'{got}')
    return pos_embed


class KernelPositionalEmbedding(nn.Module):
    """PeLK's kernel-wise positional embedding h (Sec. 4.2), one per stage.

    Holds only the parameter ``weight`` of shape ``(C, K, K)``; the stage
    passes it to each of its peripheral convs as ``pos_embed``, so all
    blocks of a stage share it. Initialized as the paper says, with timm's
    ``trunc_normal_(std=.02)``, whose cut-off (+-2) is absolute, i.e. 100
    standard deviations: in effect a plain normal.

    Args:
        channels (int): C, the channels of the convs that use it (after a
            partial split, the convolved channels only).
        kernel_size (int): K, odd.
    """

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        _check_odd('kernel_size', kernel_size)
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'channels must be a positive int, got '
                             f'{channels!r}')
        self.channels = channels
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(
            torch.empty(channels, kernel_size, kernel_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.weight, std=.02)

    def extra_repr(self) -> str:
        return f'channels={self.channels}, kernel_size={self.kernel_size}'


def _resolve_grid(kernel_size, centre_size, sharing_grid):
    if sharing_grid is not None:
        return parse_sharing_grid(sharing_grid, kernel_size)
    return make_sharing_grid(kernel_size, centre_size)


class PeripheralConv2d(nn.Module):
    """Depth-wise KxK convolution whose kernel is materialized from shared
    parameters (Eq. 1), stride 1, zero 'same' padding, no bias.

    Each forward builds the dense kernel (:meth:`get_kernel`, a gather of
    ``C * K * K`` values) and runs :func:`lkmm.ops.depthwise_conv2d`;
    gradients reach the ``(C, 1, k', k')`` parameter ``weight`` through the
    gather.

    Args:
        channels (int): Input and output channels.
        kernel_size (int): K, odd.
        centre_size (int): Fine-grained centre width of the default grid
            (:func:`make_sharing_grid`). Defaults to 5.
        sharing_grid (Sequence[int], optional): Explicit grid, full or half
            (:func:`parse_sharing_grid`); overrides ``centre_size``.
    """

    def __init__(self, channels: int, kernel_size: int,
                 centre_size: int = 5,
                 sharing_grid: Optional[Sequence[int]] = None):
        super().__init__()
        self.channels = channels
        self.kernel_size = kernel_size
        self.sharing_grid = tuple(
            _resolve_grid(kernel_size, centre_size, sharing_grid))
        k = len(self.sharing_grid)
        self.weight = nn.Parameter(torch.empty(channels, 1, k, k))
        # Derived from the grid: not part of the state dict.
        self.register_buffer('index', sharing_grid_index(self.sharing_grid),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # SLaK/ConvNeXt initialize every conv with trunc_normal(std=.02);
        # mmengine's Conv2d initializers do not see this module.
        nn.init.trunc_normal_(self.weight, std=.02)

    @property
    def depthwise_kernel_size(self) -> int:
        """The per-channel kernel this layer applies (how a time
        breakdown, :mod:`lkmm.analysis.breakdown`, sorts it)."""
        return self.kernel_size

    def get_kernel(self) -> torch.Tensor:
        """The dense ``(C, 1, K, K)`` kernel (differentiable)."""
        return materialize_shared_kernel(self.weight, self.index)

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``conv(x, w)``; with ``pos_embed`` h, Eq. 3 exactly:
        ``conv(x, w) + sum_ij w(i, j) h(i, j)`` per channel."""
        kernel = self.get_kernel()
        bias = None
        if pos_embed is not None:
            pos_embed = _check_pos_embed(pos_embed, self.channels,
                                         self.kernel_size)
            bias = kernel_pos_embed_bias(kernel, pos_embed)
        return depthwise_conv2d(x, kernel, bias)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, '
                f'sharing_grid={list(half_sharing_grid(self.sharing_grid))} '
                f'(half, outer -> centre)')


class ReparamPeripheralConv(nn.Module):
    """PeLK's large-kernel mixer: peripheral conv-BN (+ small kxk conv-BN)
    (+ kernel-wise positional embedding), deployable into one dense conv.

    Training form: ``BN(conv(x, w)) [+ BN'(conv(x, small))] [+ b(h)]``, the
    positional term added after the BN (before it, a training-mode BN would
    cancel it). :meth:`switch_to_deploy` deploys the BNs, the small branch and
    the sharing into ``fused_conv``, one dense KxK :class:`DepthwiseConv2d`
    with bias, and keeps the shared parameters as ``pos_weight`` to add the
    stage's term per call (``docs/layers.md``).

    Args:
        channels (int): Input and output channels (depth-wise).
        kernel_size (int): K, odd.
        small_kernel (int, optional): Odd size of the parallel small kernel,
            smaller than K; None for none. Defaults to 5.
        norm_cfg (dict): Norm of both branches. Defaults to
            ``dict(type='BN')``.
        centre_size (int): Fine-grained centre width of the default grid.
            Defaults to 5.
        sharing_grid (Sequence[int], optional): Explicit grid, full or half;
            overrides ``centre_size``.
        deploy (bool): Build the deploy form directly (to load a deployed
            checkpoint). Defaults to False.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int,
                 small_kernel: Optional[int] = 5,
                 norm_cfg: dict = dict(type='BN'),
                 centre_size: int = 5,
                 sharing_grid: Optional[Sequence[int]] = None,
                 deploy: bool = False):
        super().__init__()
        _check_odd('kernel_size', kernel_size)
        check_small_kernel(small_kernel, kernel_size)
        self.channels = channels
        self.kernel_size = kernel_size
        self.small_kernel = small_kernel
        self.sharing_grid = tuple(
            _resolve_grid(kernel_size, centre_size, sharing_grid))
        if deploy:
            self._build_deployed()
        else:
            self.large_conv = nn.Sequential()
            self.large_conv.add_module('conv', PeripheralConv2d(
                channels, kernel_size, sharing_grid=self.sharing_grid))
            self.large_conv.add_module(
                'bn', build_norm_layer(norm_cfg, channels)[1])
            if small_kernel is not None:
                self.small_conv = ConvBN(channels, channels, small_kernel,
                                         groups=channels, norm_cfg=norm_cfg)

    def _build_deployed(self) -> None:
        k = len(self.sharing_grid)
        self.fused_conv = DepthwiseConv2d(self.channels, self.kernel_size,
                                          bias=True)
        self.register_buffer('pos_weight',
                             torch.zeros(self.channels, 1, k, k))
        self.register_buffer('index', sharing_grid_index(self.sharing_grid),
                             persistent=False)

    @property
    def depthwise_kernel_size(self) -> int:
        """The per-channel kernel this layer applies (how a time
        breakdown, :mod:`lkmm.analysis.breakdown`, sorts it)."""
        return self.kernel_size

    @property
    def deployed(self) -> bool:
        """Whether the branches have been merged into ``fused_conv``."""
        return hasattr(self, 'fused_conv')

    def forward(self, x: torch.Tensor,
                pos_embed: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mix ``x``; ``pos_embed`` is the stage's ``(C, K, K)`` embedding
        (tensor or :class:`KernelPositionalEmbedding`) or None."""
        if pos_embed is not None:
            pos_embed = _check_pos_embed(pos_embed, self.channels,
                                         self.kernel_size)
        if self.deployed:
            out = self.fused_conv(x)
            shared = self.pos_weight
            index = self.index
        else:
            out = self.large_conv(x)
            if hasattr(self, 'small_conv'):
                out = out + self.small_conv(x)
            shared = self.large_conv.conv.weight
            index = self.large_conv.conv.index
        if pos_embed is not None:
            kernel = materialize_shared_kernel(shared, index)
            bias = kernel_pos_embed_bias(kernel, pos_embed)
            out = out + bias.to(out.dtype).view(1, -1, 1, 1)
        return out

    @torch.no_grad()
    def get_deploy_kernel_bias(self):
        """Kernel and bias of the single conv equal to the eval-mode output
        without positional embedding.

        Returns:
            tuple[Tensor, Tensor]: ``(C, 1, K, K)`` kernel, ``(C,)`` bias.
        """
        if self.deployed:
            return self.fused_conv.weight.clone(), self.fused_conv.bias.clone()
        # fuse_conv_bn reads only ``weight`` and ``bias`` of the conv.
        dense = SimpleNamespace(weight=self.large_conv.conv.get_kernel(),
                                bias=None)
        kernel, bias = fuse_conv_bn(dense, self.large_conv.bn)
        if hasattr(self, 'small_conv'):
            small_kernel, small_bias = fuse_centred_branches(
                [self.small_conv], self.kernel_size)
            kernel, bias = kernel + small_kernel, bias + small_bias
        return kernel, bias

    def switch_to_deploy(self) -> None:
        """Deploy BNs, the small branch and the sharing into ``fused_conv``
        (in place); keep the shared parameters for the positional term."""
        if self.deployed:
            return
        kernel, bias = self.get_deploy_kernel_bias()
        shared = self.large_conv.conv.weight.detach().clone()
        del self.large_conv
        if hasattr(self, 'small_conv'):
            del self.small_conv
        self._build_deployed()
        self.to(kernel.device)
        self.fused_conv.to(kernel.dtype)
        self.fused_conv.weight.data.copy_(kernel)
        self.fused_conv.bias.data.copy_(bias)
        self.pos_weight = shared

    @property
    def num_shared_params(self) -> int:
        """Parameters of the peripheral kernel per channel, ``k'^2``."""
        return len(self.sharing_grid) ** 2

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, kernel_size={self.kernel_size}, '
                f'small_kernel={self.small_kernel}, sharing_grid='
                f'{half_sharing_grid(self.sharing_grid)} (half, outer -> '
                f'centre), deployed={self.deployed}')
