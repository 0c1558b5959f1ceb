"""Convolution followed by a normalization layer, and BN deployment."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer

from .depthwise_conv import DepthwiseConv2d


class ConvBN(nn.Sequential):
    """``conv -> norm [-> act]`` with a bias-free convolution.

    Depth-wise convolutions are :class:`DepthwiseConv2d` (an ``nn.Conv2d``
    that runs lkmm's fast op).

    The children are named ``conv``, ``bn`` and (optionally) ``act`` so that
    state dicts stay readable and BN deployment knows where to look.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Square kernel size.
        stride (int): Stride. Defaults to 1.
        padding (int, optional): Zero padding; ``dilation * (kernel_size //
            2)`` when None.
        groups (int): Convolution groups. Defaults to 1.
        norm_cfg (dict): Config of the normalization layer.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Config of the activation after the norm;
            None for no activation. Defaults to None.
        dilation (int): Dilation of the convolution. Defaults to 1.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: Optional[int] = None,
                 groups: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = None,
                 dilation: int = 1):
        super().__init__()
        if padding is None:
            padding = dilation * (kernel_size // 2)
        if groups == in_channels == out_channels and groups > 1:
            # Depth-wise: lkmm's op (fast large kernels on CPU).
            conv = DepthwiseConv2d(in_channels, kernel_size, stride=stride,
                                   padding=padding, bias=False,
                                   dilation=dilation)
        else:
            conv = nn.Conv2d(in_channels, out_channels, kernel_size,
                             stride=stride, padding=padding, groups=groups,
                             dilation=dilation, bias=False)
        self.add_module('conv', conv)
        self.add_module('bn', build_norm_layer(norm_cfg, out_channels)[1])
        if act_cfg is not None:
            self.add_module('act', build_activation_layer(act_cfg))


def fuse_conv_bn(conv: nn.Conv2d,
                 bn: nn.modules.batchnorm._BatchNorm
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return the kernel and bias of ``bn(conv(x))`` as a single convolution.

    Uses the running statistics, i.e. the result equals the eval-mode output.

    Args:
        conv (nn.Conv2d): Convolution (its bias, if any, is deployed too).
        bn (_BatchNorm): BatchNorm (or SyncBatchNorm) following ``conv``.

    Returns:
        tuple[Tensor, Tensor]: Merged kernel and bias.
    """
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv.weight * scale.reshape(-1, 1, 1, 1), bias
