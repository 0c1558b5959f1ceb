"""Channel norms of ``(N, C, H, W)`` maps used by the ConvNeXt-layout
backbones."""
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['LayerNorm2d', 'L2LayerNorm2d']


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an ``(N, C, H, W)`` map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class L2LayerNorm2d(nn.Module):
    """The released code's norm: centre over channels, divide by the L2
    norm (not the standard deviation: the result is ``1/sqrt(C)`` of a
    LayerNorm's), scale, no bias.

    Args:
        channels (int): Channels C of an ``(N, C, H, W)`` map.
        eps (float): Lower bound of the norm. Defaults to 1e-6.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean(1, keepdim=True)
        c = c / c.norm(2, dim=1, keepdim=True).clamp_min(self.eps)
        return c * self.weight.view(1, -1, 1, 1)
