"""``nn.Conv2d`` drop-in that runs depth-wise convolutions with lkmm's op."""
import torch
import torch.nn as nn

from lkmm.ops import check_depthwise_conv_impl, depthwise_conv2d


class DepthwiseConv2d(nn.Conv2d):
    """A depth-wise ``nn.Conv2d`` computed by
    :func:`lkmm.ops.depthwise_conv2d` when it applies.

    Same parameters, state-dict keys and results as ``nn.Conv2d`` (it *is*
    one: initializers, BN deployment and checkpoint converters treat it as
    such). The fast op covers stride 1, dilation 1, zero 'same' padding and
    odd kernels; any other setting runs ``nn.Conv2d.forward``.

    Args:
        channels (int): Input and output channels.
        kernel_size (int | tuple[int, int]): Kernel size.
        stride (int | tuple[int, int]): Stride. Defaults to 1.
        padding (int | tuple[int, int], optional): Zero padding;
            ``dilation * (kernel_size // 2)`` ('same') when None. Defaults
            to None.
        bias (bool): Whether to learn a bias. Defaults to False.
        dilation (int): Spacing of the kernel taps (a dilated kernel runs
            ``nn.Conv2d.forward``). Defaults to 1.
        impl (str): ``'auto'`` (the plan: switch, ``LKMM_DWCONV_IMPL``,
            measured rules; :func:`lkmm.ops.select_depthwise_conv_plan`),
            ``'torch'``, ``'fft'`` or ``'triton'``: this module's choice,
            above the thread switch and the environment. Defaults to
            ``'auto'``.

    Raises:
        ValueError: ``impl`` is not one of :data:`lkmm.ops.DWCONV_IMPLS`.
    """

    # Class default: modules pickled before ``impl`` existed plan as before.
    impl: str = 'auto'

    def __init__(self, channels: int, kernel_size, stride=1, padding=None,
                 bias: bool = False, dilation: int = 1, impl: str = 'auto'):
        impl = check_depthwise_conv_impl(impl)
        ks = nn.modules.utils._pair(kernel_size)
        if padding is None:
            padding = (dilation * (ks[0] // 2), dilation * (ks[1] // 2))
        super().__init__(channels, channels, ks, stride=stride,
                         padding=padding, dilation=dilation,
                         groups=channels, bias=bias)
        self.impl = impl

    @property
    def uses_fast_op(self) -> bool:
        """Whether the settings are those :func:`depthwise_conv2d` covers."""
        kh, kw = self.kernel_size
        return (self.stride == (1, 1) and self.dilation == (1, 1)
                and self.padding_mode == 'zeros' and kh % 2 == 1
                and kw % 2 == 1 and self.padding == (kh // 2, kw // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.uses_fast_op and x.dim() == 4:
            return depthwise_conv2d(
                x, self.weight, self.bias,
                impl=None if self.impl == 'auto' else self.impl)
        return super().forward(x)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.impl == 'auto' else f'{s}, impl={self.impl!r}'
