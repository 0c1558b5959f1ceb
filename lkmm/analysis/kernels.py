"""Weights of large depth-wise kernels, as RepLKNet visualizes them
(Appendix D).

For one large depth-wise layer, the *deployed* kernel (branches and BNs merged,
as ``switch_to_deploy()`` computes it) is summed in absolute value over the
channels (:func:`aggregate_kernel`) and divided by its maximum
(:func:`rescale_kernel`; the paper's range is lost). Which layers are read
and how (:func:`find_kernel_layers`): ``docs/analysis.md``, "Kernel weights".
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from lkmm.layers import OversizedConv2d, fuse_conv_bn
from lkmm.utils.plotting import figure_png, pyplot

__all__ = [
    'KernelLayer', 'find_kernel_layers', 'select_kernel_layer',
    'deploy_kernel', 'aggregate_kernel', 'rescale_kernel', 'kernel_summary',
    'layer_input_sizes', 'default_kernel_layer', 'format_kernel_layers',
    'kernel_heatmap_png'
]


class KernelLayer(NamedTuple):
    """A large depth-wise layer of a model.

    ``name`` is the module name (of the convolution for the ``conv-bn``
    and ``conv`` kinds), ``norm`` the BN of a ``conv-bn`` pair.
    """
    name: str
    module: nn.Module
    kind: str
    norm: Optional[nn.Module] = None

    @property
    def size(self) -> tuple:
        """``(H, W)`` of the deployed kernel."""
        if self.kind == 'oversized':
            return tuple(int(k) for k in self.module.kernel_size)
        if self.kind in ('conv-bn', 'conv'):
            return _dense_size(self.module)
        size = nn.modules.utils._pair(self.module.kernel_size)
        dilation = _reparam_dilation(self.module)
        return tuple(d * (k - 1) + 1 for k, d in zip(size, dilation))

    @property
    def stride(self) -> tuple:
        """``(sh, sw)`` of the layer."""
        if self.kind in ('conv-bn', 'conv'):
            return tuple(self.module.stride)
        if hasattr(self.module, 'lkb_origin'):  # mmpretrain, training-form
            return tuple(self.module.lkb_origin.conv.stride)
        if hasattr(self.module, 'lkb_reparam'):  # mmpretrain, deployed
            return tuple(self.module.lkb_reparam.stride)
        stride = getattr(self.module, 'stride', 1)
        return tuple(stride) if isinstance(stride, (tuple, list)) else \
            (stride, stride)


def _reparam_dilation(module: nn.Module) -> tuple:
    # lkmm's ReparamLargeKernelConv may run its deployed kernel dilated.
    return nn.modules.utils._pair(getattr(module, 'dilation', 1))


def _dense_size(conv: nn.Conv2d) -> tuple:
    return tuple(d * (k - 1) + 1
                 for k, d in zip(conv.kernel_size, conv.dilation))


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) and \
        module.groups == module.in_channels == module.out_channels


def _deploys_itself(module: nn.Module) -> bool:
    return callable(getattr(module, 'get_deploy_kernel_bias', None)) or \
        hasattr(module, 'lkb_reparam') or hasattr(module, 'lkb_origin')


def _conv_module_norm(module: nn.Module) -> Optional[nn.Module]:
    """The BN right after the conv of an mmcv ``ConvModule``, else None."""
    order = getattr(module, 'order', None)
    norm_name = getattr(module, 'norm_name', None)
    if not (order and norm_name and getattr(module, 'with_norm', False)
            and hasattr(module, 'conv')):
        return None
    position = list(order).index('conv')
    if position + 1 >= len(order) or order[position + 1] != 'norm':
        return None
    norm = getattr(module, norm_name)
    return norm if isinstance(norm, _BatchNorm) else None


def find_kernel_layers(model: nn.Module, min_kernel: int = 5
                       ) -> List[KernelLayer]:
    """The large depth-wise layers of ``model``, in module order.

    The search does not descend into a layer it has found (the branches of
    a re-parameterized layer are part of it).

    Args:
        model (nn.Module): Any model.
        min_kernel (int): Smallest kernel side (of the deployed kernel)
            counted as large. Defaults to 5.

    Returns:
        list[KernelLayer]: Possibly empty.
    """
    found = []

    def add(name, module, kind, norm=None):
        layer = KernelLayer(name, module, kind, norm)
        if max(layer.size) >= min_kernel:
            found.append(layer)

    def visit(module, prefix):
        norm = _conv_module_norm(module)
        if _deploys_itself(module):
            add(prefix, module, 'reparam')
        elif isinstance(module, OversizedConv2d):
            add(prefix, module, 'oversized')
        elif norm is not None and _is_depthwise(module.conv):
            add(_join(prefix, 'conv'), module.conv, 'conv-bn', norm)
        elif _is_depthwise(module):
            add(prefix, module, 'conv')
        else:
            visit_children(module, prefix)

    def visit_children(module, prefix):
        children = list(module.named_children())
        paired = set()
        if isinstance(module, nn.Sequential):
            for (name, child), (_, after) in zip(children, children[1:]):
                if _is_depthwise(child) and isinstance(after, _BatchNorm):
                    add(_join(prefix, name), child, 'conv-bn', after)
                    paired.add(name)
        for name, child in children:
            if name not in paired:
                visit(child, _join(prefix, name))

    visit(model, '')
    return found


def _join(prefix: str, name: str) -> str:
    return f'{prefix}.{name}' if prefix else name


def select_kernel_layer(layers: Sequence[KernelLayer], name: str,
                        model: nn.Module) -> KernelLayer:
    """The layer called ``name``, or the one large layer inside the module
    called ``name`` (e.g. a block).

    Raises:
        KeyError: naming the candidates when there is none or several.
    """
    for layer in layers:
        if layer.name == name:
            return layer
    modules = dict(model.named_modules())
    if name in modules:
        inside = [layer for layer in layers
                  if layer.name.startswith(name + '.')]
        if len(inside) == 1:
            return inside[0]
        if inside:
            raise KeyError(
                f'{name} holds {len(inside)} large-kernel layers; name one: '
                f'{", ".join(layer.name for layer in inside)}')
    shown = ', '.join(layer.name for layer in layers[:12])
    more = f', ... ({len(layers)} in all)' if len(layers) > 12 else ''
    raise KeyError(f'no large-kernel layer {name!r}; the model has: '
                   f'{shown}{more}')


@torch.no_grad()
def deploy_kernel(layer: KernelLayer) -> torch.Tensor:
    """The ``(C, 1, H, W)`` kernel of ``layer`` in eval mode, branches and
    BNs merged (see the module docstring for each kind)."""
    module = layer.module
    if layer.kind == 'reparam':
        if callable(getattr(module, 'get_deploy_kernel_bias', None)):
            kernel = module.get_deploy_kernel_bias()[0]
        elif hasattr(module, 'lkb_reparam'):
            kernel = module.lkb_reparam.weight
        else:
            kernel = module.get_equivalent_kernel_bias()[0]
        kernel = _undilated(kernel, _reparam_dilation(module))
    elif layer.kind == 'oversized':
        vertical = module.weight_h.flatten(1)
        horizontal = module.weight_w.flatten(1)
        kernel = (vertical[:, :, None] * horizontal[:, None, :])[:, None]
    elif layer.kind in ('conv-bn', 'conv'):
        kernel = module.weight
        if layer.kind == 'conv-bn':
            kernel = fuse_conv_bn(module, layer.norm)[0]
        kernel = _undilated(kernel, module.dilation)
    else:
        raise ValueError(f'unknown kernel layer kind {layer.kind!r}')
    return kernel.detach().float().cpu()


def _undilated(kernel: torch.Tensor, dilation) -> torch.Tensor:
    if tuple(dilation) == (1, 1):
        return kernel
    dh, dw = dilation
    kh, kw = kernel.shape[-2:]
    dense = kernel.new_zeros(*kernel.shape[:2], dh * (kh - 1) + 1,
                             dw * (kw - 1) + 1)
    dense[..., ::dh, ::dw] = kernel
    return dense


def aggregate_kernel(kernel: torch.Tensor) -> np.ndarray:
    """``|kernel|`` summed over the channels: ``(C, 1, H, W)`` -> ``(H, W)``
    float64."""
    if kernel.dim() != 4:
        raise ValueError(f'expected a (C, 1, H, W) kernel, got shape '
                         f'{tuple(kernel.shape)}')
    return kernel.double().abs().sum(dim=(0, 1)).numpy()


def rescale_kernel(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` divided by its maximum: values in [0, 1] (the paper
    rescales too; its range is lost in the published text)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    peak = matrix.max()
    return matrix / peak if peak > 0 else matrix


def kernel_summary(matrix: np.ndarray) -> Dict[str, float]:
    """Means of the rescaled matrix over the regions the paper discusses.

    Returns:
        dict: ``centre`` (the centre point), ``centre_3x3``, ``skeleton``
        (the centre row and column, without the centre 3x3) and ``rest``
        (everything else); NaN for an empty region.
    """
    scaled = rescale_kernel(matrix)
    h, w = scaled.shape
    cy, cx = h // 2, w // 2
    centre = np.zeros_like(scaled, dtype=bool)
    centre[max(cy - 1, 0):cy + 2, max(cx - 1, 0):cx + 2] = True
    skeleton = np.zeros_like(centre)
    skeleton[cy, :] = skeleton[:, cx] = True
    skeleton &= ~centre
    rest = ~(centre | skeleton)

    def mean(mask):
        return float(scaled[mask].mean()) if mask.any() else float('nan')

    return dict(centre=float(scaled[cy, cx]), centre_3x3=mean(centre),
                skeleton=mean(skeleton), rest=mean(rest))


def layer_input_sizes(forward: Callable[[], object],
                      layers: Sequence[KernelLayer]) -> Dict[str, tuple]:
    """The input map size of each layer in one call of ``forward``, in the
    order the layers run (layers that do not run are left out).

    Args:
        forward (Callable): Runs the model once, e.g. on a zero image.
        layers (Sequence[KernelLayer]): From :func:`find_kernel_layers`.

    Returns:
        dict: ``{name: (h, w)}``, ordered by first call.
    """
    sizes = {}
    handles = []
    for layer in layers:
        def hook(_, args, name=layer.name):
            if name not in sizes and args and torch.is_tensor(args[0]):
                sizes[name] = tuple(int(s) for s in args[0].shape[-2:])
        handles.append(layer.module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            forward()
    finally:
        for handle in handles:
            handle.remove()
    return sizes


def default_kernel_layer(layers: Sequence[KernelLayer],
                         sizes: Dict[str, tuple]) -> KernelLayer:
    """The paper's choice: the first stride-1 large kernel (in running
    order) of the last stage, i.e. among the layers with the smallest input
    map; the first of them when none has stride 1.

    Args:
        layers (Sequence[KernelLayer]): Candidates.
        sizes (dict): From :func:`layer_input_sizes`.

    Raises:
        ValueError: when no layer ran.
    """
    by_name = {layer.name: layer for layer in layers}
    ran = [by_name[name] for name in sizes if name in by_name]
    if not ran:
        raise ValueError('none of the large-kernel layers ran in the probe '
                         'forward')
    smallest = min(sizes[layer.name][0] * sizes[layer.name][1]
                   for layer in ran)
    last_stage = [layer for layer in ran
                  if sizes[layer.name][0] * sizes[layer.name][1] == smallest]
    stride_one = [layer for layer in last_stage if layer.stride == (1, 1)]
    return (stride_one or last_stage)[0]


def format_kernel_layers(layers: Sequence[KernelLayer],
                         sizes: Optional[Dict[str, tuple]] = None,
                         chosen: Optional[str] = None) -> str:
    """A text table of the layers: name, kind, kernel, stride, input map;
    ``*`` marks ``chosen``."""
    sizes = sizes or {}
    width = max([len(layer.name) for layer in layers] + [5]) + 2
    lines = [f'  {"layer":<{width}}{"kind":<11}{"kernel":>9}{"stride":>8}'
             f'{"input":>11}']
    for layer in layers:
        mark = '*' if layer.name == chosen else ' '
        kernel = 'x'.join(str(k) for k in layer.size)
        stride = 'x'.join(str(s) for s in layer.stride) \
            if len(set(layer.stride)) > 1 else str(layer.stride[0])
        size = sizes.get(layer.name)
        size = 'x'.join(str(s) for s in size) if size else '-'
        lines.append(f'{mark} {layer.name:<{width}}{layer.kind:<11}'
                     f'{kernel:>9}{stride:>8}{size:>11}')
    return '\n'.join(lines)


def kernel_heatmap_png(matrices: Sequence[np.ndarray],
                       titles: Sequence[str]) -> bytes:
    """PNG bytes of the rescaled matrices side by side, one 400x400-pixel
    panel each (so the image is ``400 * len(matrices)`` pixels wide).

    Args:
        matrices (Sequence[np.ndarray]): Aggregated kernels
            (:func:`aggregate_kernel`), each rescaled for its own panel.
        titles (Sequence[str]): One per matrix.
    """
    plt = pyplot()
    if len(matrices) != len(titles) or not matrices:
        raise ValueError(f'{len(titles)} titles for {len(matrices)} '
                         'matrices')
    fig, axes = plt.subplots(1, len(matrices),
                             figsize=(4 * len(matrices), 4), squeeze=False)
    for ax, matrix, title in zip(axes[0], matrices, titles):
        image = ax.imshow(rescale_kernel(matrix), cmap='viridis', vmin=0,
                          vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return figure_png(fig)
