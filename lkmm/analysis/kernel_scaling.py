"""Model size against kernel size, dense vs stripe vs peripheral (PeLK
Sec. 6.4, Fig. 6).

:func:`kernel_scaling` builds the real model for every (form, K) -- the
config's model with its ``lkmm.LargeKernelConvNeXt`` backbone set to
:func:`scaling_arch`, all four stages at K -- and counts its parameters in
the training form, as PeLK counts them; ``'peripheral+pe'`` adds PeLK's
kernel-wise positional embedding, which Fig. 6 leaves out. What is counted
and the figures: ``configs/pelk/README.md``, "Kernel scaling".
"""
import copy
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch.nn as nn

from lkmm.layers import (
    DenseLargeKernelConv,
    KernelPositionalEmbedding,
    ReparamPeripheralConv,
    ReparamStripeConv,
    half_sharing_grid,
)
from lkmm.models import LargeKernelConvNeXt

__all__ = [
    'SCALING_KERNEL_SIZES', 'SCALING_FORMS', 'KernelScalingRow',
    'pelk_centre_size', 'scaling_arch', 'count_scaling_params',
    'kernel_scaling', 'format_kernel_scaling_table'
]

#: Default kernel sizes. Fig. 6's exact x positions are not in the paper's
#: text ("a set of kernel sizes from 7 to 151"); these span that range
#: roughly geometrically and include every kernel the papers name: 7
#: (ConvNeXt), 31 (RepLKNet), 51 (SLaK, PeLK), 101 (PeLK-101), 151
#: (PeLK-151).
SCALING_KERNEL_SIZES = (7, 11, 15, 21, 31, 51, 71, 101, 151)

#: Forms compared: the three large-kernel forms of
#: :func:`lkmm.layers.build_large_kernel_conv`, and the peripheral one with
#: PeLK's per-stage positional embedding.
SCALING_FORMS = ('dense', 'stripe', 'peripheral', 'peripheral+pe')

_LARGE_KERNEL_TYPES = (DenseLargeKernelConv, ReparamStripeConv,
                       ReparamPeripheralConv)


def pelk_centre_size(kernel_size: int) -> int:
    """The fine-grained centre width of a peripheral kernel of size K.

    PeLK gives two points, 5x5 at K=51 (PeLK) and 7x7 at K=101 (PeLK-101);
    lkmm's PeLK-151 config continues the line with 9x9 at 151. For any K:
    ``5 + 2 * floor((K - 51) / 50)``, and 5 below 51 (PeLK's default), never
    more than K. So 7 to 99 -> 5x5 (at K=7 the grid is all ones: the
    peripheral kernel *is* the dense one), 101 to 149 -> 7x7, 151 to 199 ->
    9x9.

    Args:
        kernel_size (int): K, odd, positive.

    Returns:
        int: The odd centre width.
    """
    steps = max(0, (kernel_size - 51) // 50)
    return min(5 + 2 * steps, kernel_size)


def scaling_arch(base_arch: dict, form: str, kernel_size: int,
                 centre_size: Optional[int] = None) -> dict:
    """The ``lkmm.LargeKernelConvNeXt`` arch with every stage's kernel K.

    Depths, widths, MLP ratio, small kernel, stripe width and partial ratio
    come from ``base_arch``; the kernel sizes, the form and, for the
    peripheral forms, the centre (and the positional embedding, on for
    ``'peripheral+pe'`` only) are set here. Explicit sharing grids of the
    base are dropped (they fit its own kernels only).

    Args:
        base_arch (dict): A full arch dict
            (``LargeKernelConvNeXt.parse_arch``).
        form (str): One of :data:`SCALING_FORMS`.
        kernel_size (int): K, odd.
        centre_size (int, optional): Peripheral centre width; None:
            :func:`pelk_centre_size` of K.

    Returns:
        dict: An arch dict ``LargeKernelConvNeXt`` accepts.
    """
    if form not in SCALING_FORMS:
        raise ValueError(f'form must be one of {SCALING_FORMS}, got '
                         f'{form!r}')
    arch = copy.deepcopy(base_arch)
    arch['kernel_sizes'] = [kernel_size] * len(arch['depths'])
    arch['sharing_grids'] = None
    peripheral = form.startswith('peripheral')
    arch['form'] = 'peripheral' if peripheral else form
    arch['pos_embed'] = form == 'peripheral+pe'
    if peripheral:
        centre = pelk_centre_size(kernel_size) if centre_size is None \
            else min(centre_size, kernel_size)
        arch['centre_size'] = centre
    return arch


def count_scaling_params(model: nn.Module) -> Dict[str, int]:
    """Parameter counts of a model with lkmm large-kernel forms.

    Args:
        model (nn.Module): Any model (training form).

    Returns:
        dict: ``params`` (all), ``large_kernel_params`` (the large kernels'
        weights over all layers: dense KxK, both stripes, the shared
        peripheral ``k' x k'``; not their BNs nor the small branch),
        ``kernel_params_per_channel`` (the same for one channel of one
        layer; 0 without large kernels) and ``pos_embed_params``.
    """
    large, per_channel, pos_embed = 0, 0, 0
    for module in model.modules():
        if isinstance(module, _LARGE_KERNEL_TYPES):
            weights = sum(p.numel() for n, p in module.named_parameters()
                          if p.dim() > 1 and not n.startswith('small_conv'))
            large += weights
            per_channel = per_channel or weights // module.channels
        elif isinstance(module, KernelPositionalEmbedding):
            pos_embed += module.weight.numel()
    return dict(params=sum(p.numel() for p in model.parameters()),
                large_kernel_params=large,
                kernel_params_per_channel=per_channel,
                pos_embed_params=pos_embed)


@dataclass
class KernelScalingRow:
    """One model of the scaling study.

    Args:
        form (str): One of :data:`SCALING_FORMS`.
        kernel_size (int): K of every stage.
        params (int): All parameters of the model, training form.
        large_kernel_params (int): Large-kernel weights over all layers.
        kernel_params_per_channel (int): The same per channel and layer:
            ``K^2`` dense, ``2 w K`` stripe, ``k'^2`` peripheral.
        pos_embed_params (int): Positional embeddings (``'peripheral+pe'``).
        centre_size (int, optional): Peripheral: fine-grained centre width.
        sharing_grid (list[int], optional): Peripheral: half grid, outer ->
            centre.
        build_s (float): Seconds to build the model.
    """
    form: str
    kernel_size: int
    params: int
    large_kernel_params: int
    kernel_params_per_channel: int
    pos_embed_params: int = 0
    centre_size: Optional[int] = None
    sharing_grid: Optional[List[int]] = None
    build_s: float = 0.

    def to_dict(self) -> dict:
        return asdict(self)


def _backbone_cfg(cfg) -> dict:
    model = cfg.get('model')
    backbone = model.get('backbone') if model is not None else None
    kind = backbone.get('type', '') if backbone is not None else ''
    if not str(kind).endswith('LargeKernelConvNeXt'):
        raise ValueError(
            'kernel scaling needs a model whose backbone is '
            f'lkmm.LargeKernelConvNeXt; this config\'s backbone type is '
            f'{kind or "missing"!r}')
    return backbone


def kernel_scaling(cfg,
                   kernel_sizes: Sequence[int] = SCALING_KERNEL_SIZES,
                   forms: Sequence[str] = SCALING_FORMS,
                   centre_size: Optional[int] = None,
                   build_model: Optional[Callable] = None,
                   progress: Optional[Callable[[int, int, KernelScalingRow],
                                               None]] = None
                   ) -> List[KernelScalingRow]:
    """Build the config's model for every (form, K) and count it.

    Args:
        cfg (mmengine.Config): A config whose ``model.backbone`` is an
            ``lkmm.LargeKernelConvNeXt`` (its arch is the base: depths,
            widths, ...). Not modified.
        kernel_sizes (Sequence[int]): Odd K values, each at least 3.
        forms (Sequence[str]): Names in :data:`SCALING_FORMS`. Defaults to
            all of them.
        centre_size (int, optional): Fixed peripheral centre width; None:
            :func:`pelk_centre_size` of each K.
        build_model (Callable, optional): ``cfg -> model``; defaults to
            :func:`lkmm.engine.runner.build_model_from_cfg`.
        progress (Callable, optional): Called as ``progress(i, total,
            row)`` after each model.

    Returns:
        list[KernelScalingRow]: Form by form, K by K.
    """
    bad_forms = [f for f in forms if f not in SCALING_FORMS]
    if bad_forms or not forms:
        raise ValueError(f'forms must be names in {SCALING_FORMS}, got '
                         f'{list(forms)}')
    bad_kernels = [k for k in kernel_sizes if isinstance(k, bool) or
                   not isinstance(k, int) or k < 3 or k % 2 == 0]
    if bad_kernels or not kernel_sizes:
        raise ValueError('kernel sizes must be odd ints >= 3, got '
                         f'{list(kernel_sizes)}')
    if centre_size is not None and (centre_size < 1 or centre_size % 2 == 0):
        raise ValueError(f'centre_size must be a positive odd int, got '
                         f'{centre_size}')
    if build_model is None:
        from lkmm.engine.runner import build_model_from_cfg
        build_model = build_model_from_cfg
    base = LargeKernelConvNeXt.parse_arch(_backbone_cfg(cfg).get(
        'arch', 'pelk-t'))
    rows = []
    total = len(forms) * len(kernel_sizes)
    for form in forms:
        for kernel_size in kernel_sizes:
            arch = scaling_arch(base, form, kernel_size, centre_size)
            model_cfg = copy.deepcopy(cfg)
            model_cfg.model.backbone.arch = arch
            start = time.perf_counter()
            model = build_model(model_cfg)
            counts = count_scaling_params(model)
            grid = next((m.sharing_grid for m in model.modules()
                         if isinstance(m, ReparamPeripheralConv)), None)
            del model  # a 151x151 dense model holds ~0.7 GB
            row = KernelScalingRow(
                form=form, kernel_size=kernel_size, **counts,
                centre_size=None if grid is None else arch['centre_size'],
                sharing_grid=None if grid is None else
                half_sharing_grid(grid),
                build_s=time.perf_counter() - start)
            rows.append(row)
            if progress is not None:
                progress(len(rows), total, row)
    return rows


def format_kernel_scaling_table(rows: Sequence[KernelScalingRow]) -> str:
    """A markdown table: one line per K, model params (M) per form, then
    the large-kernel parameters per channel and layer per form.

    Args:
        rows (Sequence[KernelScalingRow]): From :func:`kernel_scaling`.

    Returns:
        str: The table, lines joined by newlines.
    """
    forms = list(dict.fromkeys(r.form for r in rows))
    kernels = list(dict.fromkeys(r.kernel_size for r in rows))
    by_key = {(r.form, r.kernel_size): r for r in rows}
    # The positional embedding adds no kernel weights: its per-channel
    # column would repeat the peripheral one.
    kernel_forms = [f for f in forms
                    if not (f == 'peripheral+pe' and 'peripheral' in forms)]
    head = ['K'] + [f'{f} params (M)' for f in forms] + [
        f'{f} kernel params / channel' for f in kernel_forms]
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + ' --- |' * len(head)]
    for k in kernels:
        cells = [str(k)]
        for f in forms:
            row = by_key.get((f, k))
            cells.append('—' if row is None else f'{row.params / 1e6:.2f}')
        for f in kernel_forms:
            row = by_key.get((f, k))
            if row is None:
                cells.append('—')
            elif row.sharing_grid is not None:
                cells.append(f'{row.kernel_params_per_channel} '
                             f'({len(row.sharing_grid) * 2 - 1}^2, '
                             f'{row.centre_size}x{row.centre_size} centre)')
            else:
                cells.append(str(row.kernel_params_per_channel))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
