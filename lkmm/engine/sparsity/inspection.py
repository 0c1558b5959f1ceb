"""Read-only reports on a (sparse) model: non-zero parameter counts and
per-layer densities.

Nothing here changes a model. The module depends on :mod:`.masks` only,
not on the training hook (:mod:`.hook`) nor mmengine's ``Hook``, so
counting code such as ``lkmm.cli.get_flops`` can use it without them.
"""
from typing import Optional

import torch
import torch.nn as nn

from .masks import MasksLike, masks_from, unwrap_model


def count_nonzero_params(model: nn.Module) -> int:
    """Non-zero parameter entries: the parameter count of a sparse model as
    SLaK and PeLK report it.

    Args:
        model (nn.Module): The model (wrappers are unwrapped; shared
            parameters count once).

    Returns:
        int: The number of non-zero entries over all parameters.
    """
    return int(sum(int(torch.count_nonzero(p.detach()))
                   for p in unwrap_model(model).parameters()))


def sparse_param_summary(model: nn.Module,
                         masks: Optional[MasksLike] = None) -> str:
    """A table of non-zero weights per layer, and totals.

    Args:
        model (nn.Module): The model.
        masks (optional): Rows are the layers of these masks
            (:class:`~.masks.SparseMasks`, its state dict, a checkpoint
            dict or path); every parameter with ``ndim >= 2`` when None.

    Returns:
        str: One row per layer (name, shape, parameters, non-zero, density)
        then the sparse layers' total and the whole model's parameters,
        non-zero parameters and sparsity.
    """
    model = unwrap_model(model)
    params = dict(model.named_parameters())
    if masks is not None:
        layers = masks_from(masks)
        names = [n for n in params if n in layers]
    else:
        names = [n for n, p in params.items() if p.ndim >= 2]
    rows = []
    layer_total = layer_nonzero = 0
    for name in names:
        p = params[name].detach()
        nonzero = int(torch.count_nonzero(p))
        layer_total += p.numel()
        layer_nonzero += nonzero
        rows.append((name, 'x'.join(map(str, p.shape)), p.numel(), nonzero,
                     nonzero / max(p.numel(), 1)))
    width = max([len(r[0]) for r in rows] + [5])
    lines = [f'{"layer":<{width}}  {"shape":>16}  {"params":>10}  '
             f'{"non-zero":>10}  density']
    lines += [f'{n:<{width}}  {s:>16}  {t:>10}  {z:>10}  {d:.4f}'
              for n, s, t, z, d in rows]
    total = sum(p.numel() for p in model.parameters())
    nonzero = count_nonzero_params(model)
    lines.append(
        f'{len(rows)} layers: {layer_nonzero}/{layer_total} non-zero '
        f'(density {layer_nonzero / max(layer_total, 1):.4f}); model: '
        f'{nonzero}/{total} non-zero parameters (sparsity '
        f'{1 - nonzero / max(total, 1):.4f})')
    return '\n'.join(lines)
