"""Per-layer density allocation of :meth:`~.masks.SparseMasks.init`.

ERK densities and SNIP scores (``uniform`` needs no helper: every layer at
the target density). How these follow SLaK: ``docs/sparsity.md``.
"""
import math
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn

#: Density allocations of :meth:`~.masks.SparseMasks.init`. ``'random'`` is
#: another name of ``'uniform'`` (SLaK's name): every layer at the target
#: density, random positions.
INIT_MODES = ('snip', 'erk', 'uniform', 'random')

#: How :meth:`~.masks.SparseMasks.init` places SNIP's kept weights in a
#: layer.
SNIP_POSITIONS = ('random', 'score')


def erk_densities(shapes: Dict[str, torch.Size], density: float,
                  power: float) -> Dict[str, float]:
    """Erdos-Renyi-Kernel densities (RigL, as in SLaK's ``init('ERK')``).

    Layer ``l`` gets density ``eps * (sum(shape) / prod(shape)) ** power``
    with ``eps`` chosen so the layers keep ``density`` of all their weights;
    a layer whose density would exceed 1 is made dense and ``eps`` is solved
    again for the others.

    Args:
        shapes (dict[str, torch.Size]): Shape of every selected parameter.
        density (float): Overall fraction of the weights kept.
        power (float): ERK exponent (``erk_power_scale``).

    Returns:
        dict[str, float]: Density of every parameter, in [0, 1].
    """
    dense = set()
    while True:
        rhs, divisor, raw = 0.0, 0.0, {}
        for name, shape in shapes.items():
            numel = math.prod(shape)
            if name in dense:
                rhs -= numel * (1 - density)
            else:
                rhs += numel * density
                raw[name] = (sum(shape) / numel)**power
                divisor += raw[name] * numel
        if not raw:
            break
        eps = rhs / divisor
        top = max(raw.values())
        if eps * top <= 1:
            break
        dense.update(n for n, r in raw.items() if r == top)
    return {
        name: 1.0 if name in dense else min(max(eps * raw[name], 0.0), 1.0)
        for name in shapes
    }


def mmengine_loss(model: nn.Module, data_batch) -> torch.Tensor:
    """The training loss of an mmengine ``BaseModel`` on a data batch.

    Args:
        model (nn.Module): An mmengine ``BaseModel``.
        data_batch: A batch from an mmengine dataloader.

    Returns:
        torch.Tensor: The loss of ``parse_losses`` (a scalar).
    """
    if not (hasattr(model, 'data_preprocessor')
            and hasattr(model, 'parse_losses')):
        raise TypeError(
            'SNIP with data_batch needs an mmengine BaseModel (with '
            f'data_preprocessor and parse_losses); {type(model).__name__} is '
            'not one: pass loss_fn instead')
    data = model.data_preprocessor(data_batch, True)
    if isinstance(data, dict):
        losses = model(**data, mode='loss')
    else:
        losses = model(*data, mode='loss')
    loss, _ = model.parse_losses(losses)
    return loss


def snip_selection(model: nn.Module, candidates: Dict[str, nn.Parameter],
                   loss_fn: Optional[Callable[[nn.Module], torch.Tensor]],
                   data_batch, density: float) -> Dict[str, torch.Tensor]:
    """Per layer, the weights among the global top ``density`` by
    ``|w * dL/dw|`` (CPU bool tensors, flat).

    Gradients are taken with ``torch.autograd.grad`` (``.grad`` untouched),
    buffers are restored and torch's RNG state is forked, so the model is
    left as it was.

    Args:
        model (nn.Module): The (unwrapped) model.
        candidates (dict[str, nn.Parameter]): The selected parameters by
            name, in model order.
        loss_fn (Callable, optional): ``loss_fn(model)`` returns the scalar
            loss of one batch; None to use ``data_batch``.
        data_batch: A batch for :func:`mmengine_loss` when ``loss_fn`` is
            None.
        density (float): Fraction of all selected weights kept.

    Returns:
        dict[str, torch.Tensor]: Flat bool mask of the kept weights of every
        candidate.
    """
    names = list(candidates)
    params = list(candidates.values())
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    cuda = sorted({p.device.index or 0 for p in params
                   if p.device.type == 'cuda'})
    with torch.random.fork_rng(devices=cuda), torch.enable_grad():
        loss = (loss_fn(model) if loss_fn is not None else
                mmengine_loss(model, data_batch))
        if not (isinstance(loss, torch.Tensor) and loss.numel() == 1):
            raise ValueError('the SNIP loss must be a scalar tensor, got '
                             f'{type(loss).__name__}')
        if not loss.requires_grad:
            raise ValueError('the SNIP loss does not depend on the '
                             'sparsified parameters (no gradient)')
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    with torch.no_grad():
        # The SNIP forward is no training step: restore BN statistics.
        for buf, saved in buffers:
            buf.copy_(saved)
        scores = torch.cat([
            (p.detach() * g).abs().flatten().float().cpu()
            if g is not None else torch.zeros(p.numel())
            for p, g in zip(params, grads)
        ])
    keep = round(density * scores.numel())
    chosen = torch.zeros(scores.numel(), dtype=torch.bool)
    if keep > 0:
        chosen[torch.topk(scores, keep, sorted=False).indices] = True
    return dict(zip(names,
                    torch.split(chosen, [p.numel() for p in params])))
