"""Dynamic sparsity of SLaK (used by SLaK and PeLK) for mmengine.

SLaK ("More ConvNets in the 2020s: Scaling up Kernels Beyond 51x51 using
Sparsity", Liu et al., ICLR 2023) trains a sparse network from scratch and
keeps its sparsity fixed while the sparse *pattern* moves; PeLK (CVPR 2024)
uses the same recipe ("Following SLaK, we also use dynamic sparsity ... 1.3x
width, 40% sparsity"). What the official code (``VITA-Group/SLaK``:
``sparse_core.py``, ``funcs.py``, ``main.py``, ``engine.py``) does, and
what this module follows:

* **Which weights.** Every parameter with 2 or 4 dimensions: all conv
  kernels (stem, large and small depth-wise kernels, 1x1 convs, downsampling)
  and linear weights, the classifier head included; biases and norms stay
  dense. Layers whose allocated density is at least 0.99 are left dense.
  Here: parameters with ``ndim >= min_ndim`` (2), narrowed by name regexes
  and module types (:class:`SparseMasks`); frozen parameters are skipped.
* **Density per layer.** ``--sparse_init snip`` in every published command
  (SLaK-T/S/B): one batch, scores ``|w * dL/dw|`` over all sparsified
  weights, one *global* threshold keeping ``(1 - sparsity)`` of them; the
  fraction each layer keeps is its density, and the kept *positions* are then
  drawn at random within the layer (``snip_positions='random'``; ``'score'``
  keeps the top-scoring weights themselves, as SNIP of Lee et al. does).
  ERK and uniform allocations are available too (``init='erk'`` /
  ``'uniform'``).
* **Prune and regrow** every ``-u`` optimizer steps (``--prune magnitude
  --growth random``): in each layer remove ``ceil(rate * active)`` active
  weights of smallest magnitude and grow as many at random positions; the
  new weights start at zero. SLaK-T: ``-u 2000 --prune_rate 0.5``; SLaK-S/B:
  ``-u 100 --prune_rate 0.3``; all with ``--sparsity 0.4``.
* **Rate decay.** ``CosineDecay``: torch's ``CosineAnnealingLR`` over all
  training steps with ``eta_min=0.005``, stepped every step; updates go on
  until the end of training (no stop fraction).
* **Masks after every step.** ``Masking.step`` runs ``optimizer.step()``
  then multiplies weights (and SGD's ``momentum_buffer``) by the masks.

Where lkmm differs, on purpose:

* Counts are exact: each layer keeps exactly its allocated number of weights
  after initialization and after every update (SLaK draws Bernoulli masks,
  so counts are right only in expectation).
* Regrowth picks only positions that were inactive *before* the update.
  SLaK draws among all inactive positions after pruning, so it may "regrow"
  a weight it has just pruned, which keeps its old value (its weight is
  never zeroed), i.e. is not pruned at all. Where a layer has fewer inactive
  positions than the prune count (density above 1/(1+rate)), fewer weights
  move; the density stays exact.
* Adam's ``exp_avg`` is masked like SGD's momentum, so a regrown weight
  starts without a stale first moment; ``exp_avg_sq`` is kept (see
  :data:`DEFAULT_STATE_KEYS`).
* Intervals count runner iterations (mmengine's convention). With gradient
  accumulation (``accumulative_counts=k``, SLaK's ``--update_freq``) use
  ``update_interval = k * u`` to reproduce SLaK's ``-u``.
* Random draws use a generator seeded by (run seed, iteration): a resumed run
  makes the same updates as an uninterrupted one, and the training RNG is
  untouched.

The masks are saved in checkpoints under ``checkpoint['lkmm_sparsity']``
(the weights in ``state_dict`` are zero where masked, so deployment needs
nothing else); :func:`apply_sparsity_masks` re-applies them to any model,
e.g. weights averaged elsewhere.
"""
import math
import numbers
import re
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.dist import broadcast, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from lkmm.registry import HOOKS

__all__ = [
    'CHECKPOINT_KEY', 'INIT_MODES', 'DECAY_MODES', 'SparseMasks',
    'DynamicSparsityHook', 'prune_rate_schedule', 'count_nonzero_params',
    'sparse_param_summary', 'apply_sparsity_masks'
]

#: Checkpoint entry holding :meth:`SparseMasks.state_dict`.
CHECKPOINT_KEY = 'lkmm_sparsity'

#: Density allocations of :meth:`SparseMasks.init`. ``'random'`` is another
#: name of ``'uniform'`` (SLaK's name): every layer at the target density,
#: random positions.
INIT_MODES = ('snip', 'erk', 'uniform', 'random')

#: How :meth:`SparseMasks.init` places SNIP's kept weights in a layer.
SNIP_POSITIONS = ('random', 'score')

#: Prune-rate schedules of :func:`prune_rate_schedule`.
DECAY_MODES = ('cosine', 'linear', 'constant')

#: Prune criteria and growth rules (SLaK's defaults; the other modes of its
#: code need dense gradients, which mmengine has cleared by the time a hook
#: runs).
PRUNE_MODES = ('magnitude', )
GROWTH_MODES = ('random', )

#: Optimizer state masked with the weights. First moments only: a masked
#: weight keeps receiving (dense) gradients, and a stale momentum would move
#: it the moment it is regrown. Adam's ``exp_avg_sq`` is kept: zeroing it
#: would make the first step of a regrown weight ~3x the usual size
#: (``(1 - b1) / sqrt(1 - b2)``), while the kept value is a fair estimate of
#: its gradient scale.
DEFAULT_STATE_KEYS = ('momentum_buffer', 'exp_avg')

#: SLaK's ``CosineDecay`` default ``eta_min``.
DEFAULT_MIN_PRUNE_RATE = 0.005

PatternType = Optional[Union[str, Sequence[str]]]


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def _check_sparsity(sparsity, owner: str) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity,
                                                    numbers.Real):
        raise ValueError(f'{owner} sparsity must be a number in [0, 1), got '
                         f'{sparsity!r}')
    if not 0 <= sparsity < 1:
        raise ValueError(f'{owner} sparsity must be in [0, 1) (the fraction '
                         f'of sparsified weights set to zero), got '
                         f'{sparsity}')
    return float(sparsity)


def _check_choice(value, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise ValueError(f'{field} must be one of {list(allowed)}, got '
                         f'{value!r}')
    return value


def _compile_patterns(patterns: PatternType, field: str) -> List[re.Pattern]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f'{field} must be a regex string or a list of '
                             f'them, got {pattern!r}')
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise ValueError(f'{field} has an invalid regex {pattern!r}: '
                             f'{err}') from err
    return compiled


def _type_names(module_types) -> Optional[List[Union[type, str]]]:
    if module_types is None:
        return None
    if isinstance(module_types, (str, type)):
        module_types = [module_types]
    out = []
    for t in module_types:
        if isinstance(t, type):
            out.append(t)
        elif isinstance(t, str) and t:
            # 'torch.nn.Conv2d' and 'Conv2d' both name nn.Conv2d.
            out.append(t.rsplit('.', 1)[-1])
        else:
            raise ValueError('module_types must hold classes or class names, '
                             f'got {t!r}')
    return out


def _module_matches(module: nn.Module, types: List[Union[type, str]]) -> bool:
    # A class name matches subclasses too (lkmm's DepthwiseConv2d is an
    # nn.Conv2d), like isinstance does for classes.
    mro_names = {c.__name__ for c in type(module).__mro__}
    return any(
        isinstance(module, t) if isinstance(t, type) else t in mro_names
        for t in types)


def _torch_optimizers(optimizer) -> List[torch.optim.Optimizer]:
    """torch optimizers inside an OptimWrapper(Dict), optimizer or list."""
    if optimizer is None:
        return []
    if isinstance(optimizer, torch.optim.Optimizer):
        return [optimizer]
    if hasattr(optimizer, 'optim_wrappers'):  # OptimWrapperDict
        return [o for w in optimizer.optim_wrappers.values()
                for o in _torch_optimizers(w)]
    if hasattr(optimizer, 'optimizer'):  # OptimWrapper
        return _torch_optimizers(optimizer.optimizer)
    if isinstance(optimizer, (list, tuple)):
        return [o for item in optimizer for o in _torch_optimizers(item)]
    raise TypeError('optimizer must be a torch optimizer, an mmengine '
                    f'OptimWrapper or a list of them, got {type(optimizer)}')


def _random_subset(candidates: torch.Tensor, k: int,
                   generator: Optional[torch.Generator]) -> torch.Tensor:
    """``k`` entries of a 1-D index tensor, uniformly without replacement."""
    # randperm runs on the CPU so a CPU generator serves any device.
    order = torch.randperm(candidates.numel(), generator=generator)[:k]
    return candidates[order.to(candidates.device)]


def _mmengine_loss(model: nn.Module, data_batch) -> torch.Tensor:
    """The training loss of an mmengine ``BaseModel`` on a data batch."""
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


def _erk_densities(shapes: Dict[str, torch.Size], density: float,
                   power: float) -> Dict[str, float]:
    """Erdos-Renyi-Kernel densities (RigL, as in SLaK's ``init('ERK')``).

    Layer ``l`` gets density ``eps * (sum(shape) / prod(shape)) ** power``
    with ``eps`` chosen so the layers keep ``density`` of all their weights;
    a layer whose density would exceed 1 is made dense and ``eps`` is solved
    again for the others.
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


def _check_selection(min_ndim, dense_threshold) -> None:
    if isinstance(min_ndim, bool) or not isinstance(min_ndim, int) \
            or min_ndim < 1:
        raise ValueError(f'min_ndim must be an int >= 1, got {min_ndim!r}')
    if isinstance(dense_threshold, bool) or not (
            isinstance(dense_threshold, numbers.Real)
            and 0 < dense_threshold <= 1):
        raise ValueError('dense_threshold must be in (0, 1], got '
                         f'{dense_threshold!r}')


class SparseMasks:
    """Binary masks over a model's weights, kept at exact per-layer counts.

    Runner-independent bookkeeping of dynamic sparse training (SLaK): pick
    the parameters to sparsify, allocate their densities (:meth:`init`),
    zero masked weights and optimizer state (:meth:`apply`), move the
    pattern (:meth:`prune_and_regrow`) and save / restore it
    (:meth:`state_dict`, :meth:`load_state_dict`).

    Masks are boolean tensors on the parameters' devices, ``True`` where a
    weight is active, keyed by parameter name in the unwrapped model (the
    names of its ``state_dict``).

    Args:
        model (nn.Module): The model (a DDP / mmengine wrapper is unwrapped).
        sparsity (float): Fraction of the selected weights set to zero, in
            [0, 1). Defaults to 0.4 (SLaK, PeLK).
        include (str | Sequence[str], optional): Regexes (``re.search``); a
            parameter is selected only if its name matches one, e.g.
            ``r'large_conv\\.conv\\.weight$'`` for the large kernels only
            (SLaK's ``--only-L``). Defaults to None (all).
        exclude (str | Sequence[str], optional): Regexes of parameter names
            never selected, e.g. ``r'^head\\.'``. Defaults to None.
        module_types (Sequence[type | str], optional): Select only
            parameters owned directly by modules of these types (classes, or
            class names matched along the class hierarchy, e.g.
            ``['Conv2d', 'Linear']``). Defaults to None (any module).
        min_ndim (int): Smallest number of dimensions of a selected
            parameter; 2 keeps conv kernels and linear weights and leaves
            biases, norms and layer scales dense (SLaK). Defaults to 2.
        dense_threshold (float): Layers allocated at least this density stay
            dense (no mask), as SLaK does with 0.99. In (0, 1]. Defaults to
            0.99.

    Raises:
        ValueError: an argument outside its allowed values, or
            ``sparsity > 0`` and no parameter selected.
    """

    def __init__(self,
                 model: nn.Module,
                 sparsity: float = 0.4,
                 include: PatternType = None,
                 exclude: PatternType = None,
                 module_types: Optional[Sequence[Union[type, str]]] = None,
                 min_ndim: int = 2,
                 dense_threshold: float = 0.99):
        self.model = _unwrap(model)
        self.sparsity = _check_sparsity(sparsity, 'SparseMasks')
        _check_selection(min_ndim, dense_threshold)
        self.dense_threshold = float(dense_threshold)
        self._include = _compile_patterns(include, 'include')
        self._exclude = _compile_patterns(exclude, 'exclude')
        self._types = _type_names(module_types)
        self.min_ndim = min_ndim
        self._params: Dict[str, nn.Parameter] = dict(
            self.model.named_parameters())
        #: Names of the selected parameters, in model order.
        self.candidates: List[str] = self._select()
        if self.sparsity > 0 and not self.candidates:
            raise ValueError(
                'SparseMasks: no parameter to sparsify matches include='
                f'{include!r}, exclude={exclude!r}, module_types='
                f'{module_types!r}, min_ndim={min_ndim} among the trainable '
                f'parameters of {type(self.model).__name__}')
        #: name -> bool mask (True = active) of the sparse layers.
        self.masks: Dict[str, torch.Tensor] = OrderedDict()

    def _select(self) -> List[str]:
        names, seen = [], set()
        for mod_name, module in self.model.named_modules():
            for p_name, param in module.named_parameters(recurse=False):
                if id(param) in seen:  # shared weights: first name only
                    continue
                seen.add(id(param))
                name = f'{mod_name}.{p_name}' if mod_name else p_name
                # Frozen weights are not trained: pruning them would only
                # destroy (e.g. pretrained) values that regrowth cannot
                # relearn.
                if param.ndim < self.min_ndim or not param.requires_grad:
                    continue
                if self._types is not None and not _module_matches(
                        module, self._types):
                    continue
                if self._include and not any(
                        p.search(name) for p in self._include):
                    continue
                if any(p.search(name) for p in self._exclude):
                    continue
                names.append(name)
        # named_modules and named_parameters agree on names; keep the order
        # of named_parameters for stable state dicts.
        order = {n: i for i, n in enumerate(self._params)}
        return sorted(names, key=lambda n: order.get(n, len(order)))

    # ------------------------------------------------------------ queries
    def num_active(self) -> int:
        """Active (unmasked) weights over all sparse layers."""
        return int(sum(int(m.sum()) for m in self.masks.values()))

    def num_masked_params(self) -> int:
        """All weights of the sparse layers, active or not."""
        return int(sum(m.numel() for m in self.masks.values()))

    @property
    def density(self) -> float:
        """Active fraction of the sparse layers (1.0 when there are none)."""
        total = self.num_masked_params()
        return self.num_active() / total if total else 1.0

    def selected_density(self) -> float:
        """Active fraction of all selected weights, those of the layers left
        dense included: the density the ``sparsity`` target refers to."""
        names = set(self.candidates) | set(self.masks)
        total = sum(self._params[n].numel() for n in names)
        dense = sum(self._params[n].numel() for n in names
                    if n not in self.masks)
        return (self.num_active() + dense) / total if total else 1.0

    def layer_densities(self) -> Dict[str, float]:
        """Active fraction of each sparse layer."""
        return {n: float(m.sum()) / m.numel() for n, m in self.masks.items()}

    # --------------------------------------------------------------- init
    def init(self,
             mode: str = 'snip',
             loss_fn: Optional[Callable[[nn.Module], torch.Tensor]] = None,
             data_batch=None,
             generator: Optional[torch.Generator] = None,
             erk_power_scale: float = 1.0,
             snip_positions: str = 'random') -> Dict[str, float]:
        """Allocate per-layer densities, draw masks and zero masked weights.

        Layers allocated at least ``dense_threshold`` stay dense (no mask).

        Args:
            mode (str): One of :data:`INIT_MODES`: ``'snip'`` (SLaK's
                default: densities from a global SNIP threshold on
                ``|w * dL/dw|``), ``'erk'`` (Erdos-Renyi-Kernel) or
                ``'uniform'`` / ``'random'`` (every layer at ``1 -
                sparsity``). Defaults to 'snip'.
            loss_fn (Callable, optional): SNIP only: ``loss_fn(model)``
                returns the scalar loss of one batch. Give this or
                ``data_batch``.
            data_batch (optional): SNIP only: a batch from an mmengine
                dataloader; the loss is the model's training loss
                (``data_preprocessor`` + ``mode='loss'`` + ``parse_losses``).
            generator (torch.Generator, optional): CPU generator of the
                random positions; torch's global one when None.
            erk_power_scale (float): ERK exponent. Defaults to 1.0.
            snip_positions (str): SNIP only: ``'random'`` (SLaK: random
                positions at the SNIP density of each layer) or ``'score'``
                (keep the top-scoring weights). Defaults to 'random'.

        Returns:
            dict[str, float]: Allocated density of every selected parameter
            (1.0 for those left dense).

        The SNIP pass leaves the model as it was: gradients are taken with
        ``torch.autograd.grad`` (``.grad`` untouched), buffers such as BN
        running statistics are restored and torch's RNG state is forked.
        """
        _check_choice(mode, INIT_MODES, 'init')
        _check_choice(snip_positions, SNIP_POSITIONS, 'snip_positions')
        density = 1.0 - self.sparsity
        numels = {n: self._params[n].numel() for n in self.candidates}
        selected: Dict[str, torch.Tensor] = {}
        if mode == 'snip':
            if (loss_fn is None) == (data_batch is None):
                raise ValueError("init='snip' needs exactly one of loss_fn "
                                 'and data_batch')
            chosen = self._snip_selection(loss_fn, data_batch, density)
            counts = {n: int(chosen[n].sum()) for n in self.candidates}
            if snip_positions == 'score':
                selected = chosen
        elif mode == 'erk':
            shapes = {n: self._params[n].shape for n in self.candidates}
            densities = _erk_densities(shapes, density, erk_power_scale)
            counts = {n: round(densities[n] * numels[n]) for n in numels}
        else:  # uniform / random
            counts = {n: round(density * numels[n]) for n in numels}

        self.masks = OrderedDict()
        allocated = {}
        for name in self.candidates:
            numel, count = numels[name], min(max(counts[name], 0),
                                             numels[name])
            allocated[name] = count / numel
            if count >= self.dense_threshold * numel:
                continue  # left dense, as SLaK drops layers at >= 0.99
            param = self._params[name]
            if name in selected:
                mask = selected[name].view(param.shape)
            else:
                flat = torch.zeros(numel, dtype=torch.bool)
                flat[_random_subset(torch.arange(numel), count,
                                    generator)] = True
                mask = flat.view(param.shape)
            self.masks[name] = mask.to(param.device)
        self.apply()
        return allocated

    def _snip_selection(self, loss_fn, data_batch,
                        density: float) -> Dict[str, torch.Tensor]:
        """Per layer, the weights among the global top ``density`` by
        ``|w * dL/dw|`` (CPU bool tensors, flat)."""
        params = [self._params[n] for n in self.candidates]
        buffers = [(b, b.detach().clone()) for b in self.model.buffers()]
        cuda = sorted({p.device.index or 0 for p in params
                       if p.device.type == 'cuda'})
        with torch.random.fork_rng(devices=cuda), torch.enable_grad():
            loss = (loss_fn(self.model) if loss_fn is not None else
                    _mmengine_loss(self.model, data_batch))
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
        return dict(zip(self.candidates,
                        torch.split(chosen, [p.numel() for p in params])))

    # -------------------------------------------------------------- apply
    @torch.no_grad()
    def apply(self,
              optimizer=None,
              state_keys: Sequence[str] = DEFAULT_STATE_KEYS) -> None:
        """Zero the masked weights, their gradients and optimizer state.

        Call after every optimizer step. Works in place, so DDP's views of
        the parameters and the optimizer's references stay valid.

        Args:
            optimizer (optional): torch optimizer, mmengine OptimWrapper /
                OptimWrapperDict, or a list of them, whose per-parameter
                state entries named in ``state_keys`` are masked too.
            state_keys (Sequence[str]): Optimizer state entries to mask.
                Defaults to :data:`DEFAULT_STATE_KEYS`.
        """
        optimizers = _torch_optimizers(optimizer)
        for name, mask in self.masks.items():
            param = self._params[name]
            if mask.device != param.device:  # the model moved
                mask = self.masks[name] = mask.to(param.device)
            off = ~mask
            param.masked_fill_(off, 0)
            if param.grad is not None:
                param.grad.masked_fill_(off, 0)
            for opt in optimizers:
                state = opt.state.get(param)
                if not state:
                    continue
                for key in state_keys:
                    value = state.get(key)
                    if isinstance(value, torch.Tensor) and \
                            value.shape == param.shape:
                        value.masked_fill_(off, 0)

    # ----------------------------------------------------- prune / regrow
    @torch.no_grad()
    def prune_and_regrow(self,
                         rate: float,
                         generator: Optional[torch.Generator] = None,
                         prune_mode: str = 'magnitude',
                         growth_mode: str = 'random') -> Dict[str, int]:
        """Move ``rate`` of every layer's active weights (SLaK's update).

        Per layer: remove the ``n = ceil(rate * active)`` active weights of
        smallest magnitude and activate ``n`` positions drawn at random
        among those inactive before the update; regrown weights start at
        zero. ``n`` is capped by the number of inactive positions, so every
        layer keeps exactly its number of active weights. Call
        :meth:`apply` with the optimizer afterwards to clear the optimizer
        state of the pruned weights.

        Args:
            rate (float): Prune rate in [0, 1].
            generator (torch.Generator, optional): CPU generator of the
                growth positions; torch's global one when None.
            prune_mode (str): One of :data:`PRUNE_MODES`.
            growth_mode (str): One of :data:`GROWTH_MODES`.

        Returns:
            dict[str, int]: Weights pruned (= regrown) per sparse layer.
        """
        if not (isinstance(rate, numbers.Real) and 0 <= rate <= 1):
            raise ValueError(f'prune rate must be in [0, 1], got {rate!r}')
        _check_choice(prune_mode, PRUNE_MODES, 'prune_mode')
        _check_choice(growth_mode, GROWTH_MODES, 'growth_mode')
        moved = OrderedDict()
        for name, mask in self.masks.items():
            param = self._params[name]
            flat = mask.view(-1)
            active = flat.nonzero().squeeze(1)
            inactive = (~flat).nonzero().squeeze(1)
            # round() first: 0.3 * 10 is 3.0000000000000004 in floats.
            n = min(math.ceil(round(rate * active.numel(), 9)),
                    inactive.numel())
            moved[name] = n
            if n == 0:
                continue
            scores = param.detach().abs().reshape(-1)[active]
            drop = active[torch.topk(scores, n, largest=False).indices]
            grow = _random_subset(inactive, n, generator)
            flat[drop] = False
            flat[grow] = True
            grown = torch.zeros_like(mask)
            grown.view(-1)[grow] = True
            param.masked_fill_(~mask | grown, 0)
        return moved

    # ------------------------------------------------------ distributed
    def broadcast(self, src: int = 0) -> None:
        """Make every rank's masks those of rank ``src`` (no-op if not
        distributed): ranks may differ after SNIP on their own batches."""
        if get_world_size() <= 1:
            return
        for name, mask in self.masks.items():
            data = mask.to(torch.uint8)  # bool is not supported by every
            broadcast(data, src)  # backend
            mask.copy_(data.to(mask.device).bool())

    # ------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        """Masks (CPU bool tensors) and the target sparsity; plain types
        only, so checkpoints stay loadable with ``weights_only=True``."""
        return dict(
            version=1,
            sparsity=self.sparsity,
            masks=OrderedDict(
                (n, m.detach().cpu().clone()) for n, m in self.masks.items()))

    def load_state_dict(self, state: dict) -> None:
        """Restore masks saved by :meth:`state_dict` and zero the masked
        weights.

        The sparse layers are those of ``state`` (not re-selected), so a
        resumed run continues the exact pattern.

        Raises:
            ValueError: ``state`` is no mask state, or names a parameter the
                model lacks or one of another shape.
        """
        masks = state.get('masks') if isinstance(state, dict) else None
        if not isinstance(masks, dict):
            raise ValueError('not a SparseMasks state dict (no "masks" '
                             'entry)')
        masks = {_strip_module(n): m for n, m in masks.items()}
        _check_mask_names(masks, self._params)
        # Copies: the masks change in place during training.
        self.masks = OrderedDict(
            (n, masks[n].to(device=self._params[n].device,
                            dtype=torch.bool).clone().contiguous())
            for n in self._params if n in masks)
        self.apply()


def _strip_module(name: str) -> str:
    # Saved from a DDP-wrapped model.
    return name[len('module.'):] if name.startswith('module.') else name


def _check_mask_names(masks: Dict[str, torch.Tensor],
                      params: Dict[str, torch.Tensor]) -> None:
    missing = sorted(n for n in masks if n not in params)
    shapes = [
        f'{n}: mask {tuple(m.shape)} vs parameter {tuple(params[n].shape)}'
        for n, m in masks.items()
        if n in params and tuple(m.shape) != tuple(params[n].shape)
    ]
    if missing or shapes:
        lines = ['sparsity masks do not match the model:']
        if missing:
            lines.append(f'  no such parameter ({len(missing)}): ' +
                         ', '.join(missing[:10]) +
                         (' ...' if len(missing) > 10 else ''))
        if shapes:
            lines.append(f'  shape mismatches ({len(shapes)}): ' +
                         '; '.join(shapes[:10]))
        raise ValueError('\n'.join(lines))


def prune_rate_schedule(step: int,
                        total: int,
                        initial: float,
                        decay: str = 'cosine',
                        min_rate: float = DEFAULT_MIN_PRUNE_RATE) -> float:
    """Prune rate after ``step`` of ``total`` steps.

    ``'cosine'`` is SLaK's ``CosineDecay`` (torch's ``CosineAnnealingLR``
    with ``T_max=total``, ``eta_min=min_rate``) in closed form:
    ``min_rate + (initial - min_rate) * (1 + cos(pi * step / total)) / 2``.
    ``'linear'`` falls linearly to ``min_rate``; ``'constant'`` keeps
    ``initial``. Steps beyond ``total`` give the final value; ``min_rate``
    above ``initial`` is lowered to it (no increasing schedule).

    Args:
        step (int): Optimizer steps (iterations) done.
        total (int): Steps over which the rate decays (> 0).
        initial (float): Rate at step 0.
        decay (str): One of :data:`DECAY_MODES`. Defaults to 'cosine'.
        min_rate (float): Final rate. Defaults to 0.005 (SLaK).

    Returns:
        float: The rate.
    """
    _check_choice(decay, DECAY_MODES, 'rate_decay')
    if decay == 'constant':
        return float(initial)
    if total <= 0:
        raise ValueError(f'total must be > 0, got {total}')
    floor = min(min_rate, initial)
    frac = min(max(step, 0), total) / total
    if decay == 'cosine':
        return floor + (initial - floor) * (1 + math.cos(math.pi * frac)) / 2
    return initial + (floor - initial) * frac


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
                   for p in _unwrap(model).parameters()))


MasksLike = Union['SparseMasks', dict, str]


def _masks_from(masks: MasksLike) -> Dict[str, torch.Tensor]:
    """name -> bool mask from masks, a (mask) state dict, a checkpoint
    dict or a checkpoint path."""
    if isinstance(masks, SparseMasks):
        return dict(masks.masks)
    if isinstance(masks, str):
        from mmengine.runner.checkpoint import CheckpointLoader
        masks = CheckpointLoader.load_checkpoint(masks, map_location='cpu')
    if isinstance(masks, dict) and CHECKPOINT_KEY in masks:
        masks = masks[CHECKPOINT_KEY]
    if isinstance(masks, dict) and isinstance(masks.get('masks'), dict):
        masks = masks['masks']
    if not isinstance(masks, dict) or not all(
            isinstance(m, torch.Tensor) for m in masks.values()):
        raise ValueError(
            'no sparsity masks found: expected a checkpoint with a '
            f'"{CHECKPOINT_KEY}" entry (written by DynamicSparsityHook), a '
            'SparseMasks state dict or a dict of masks')
    return {_strip_module(n): m.bool() for n, m in masks.items()}


def sparse_param_summary(model: nn.Module,
                         masks: Optional[MasksLike] = None) -> str:
    """A table of non-zero weights per layer, and totals.

    Args:
        model (nn.Module): The model.
        masks (optional): Rows are the layers of these masks
            (:class:`SparseMasks`, its state dict, a checkpoint dict or
            path); every parameter with ``ndim >= 2`` when None.

    Returns:
        str: One row per layer (name, shape, parameters, non-zero, density)
        then the sparse layers' total and the whole model's parameters,
        non-zero parameters and sparsity.
    """
    model = _unwrap(model)
    params = dict(model.named_parameters())
    if masks is not None:
        layers = _masks_from(masks)
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


@torch.no_grad()
def apply_sparsity_masks(model: nn.Module, checkpoint: MasksLike) -> int:
    """Zero the weights of ``model`` that a sparse run masked.

    Weights saved by :class:`DynamicSparsityHook` are already zero where
    masked, so a plain load keeps the sparsity; use this where weights come
    from elsewhere (e.g. averaged by a tool that ignores the masks) or to
    enforce the masks of a checkpoint on a loaded model.

    Args:
        model (nn.Module): The model (wrappers are unwrapped).
        checkpoint (str | dict | SparseMasks): Checkpoint path or dict with
            ``checkpoint['lkmm_sparsity']``, a :meth:`SparseMasks.state_dict`
            or a :class:`SparseMasks`.

    Returns:
        int: Number of masked (zeroed) weight entries.

    Raises:
        ValueError: no masks in ``checkpoint``, or masks for parameters the
            model lacks / of other shapes.
    """
    params = dict(_unwrap(model).named_parameters())
    masks = _masks_from(checkpoint)
    _check_mask_names(masks, params)
    masked = 0
    for name, mask in masks.items():
        off = ~mask.to(params[name].device)
        params[name].masked_fill_(off, 0)
        masked += int(off.sum())
    return masked


@HOOKS.register_module()
class DynamicSparsityHook(Hook):
    """SLaK's dynamic sparse training (SLaK, PeLK) as an mmengine hook.

    * ``before_train``: restore the masks of a resumed / loaded checkpoint,
      or allocate new ones (``init``). SNIP needs a batch and runs in the
      first ``before_train_iter`` on that iteration's own batch (no extra
      pass over the dataloader; the model stays as it was).
    * ``after_train_iter``: zero masked weights and their optimizer state
      (after the optimizer step); every ``update_interval`` iterations before
      ``stop_iter``, prune the smallest-magnitude active weights of every
      layer at the (decayed) prune rate and regrow as many at random.
    * ``before_save_checkpoint`` / ``after_load_checkpoint``: masks in
      ``checkpoint['lkmm_sparsity']``.

    The masked weights are zero in the model, in its checkpoints and, with
    ``mask_ema``, in the averaged model of mmengine's ``EMAHook`` (SLaK
    masks its EMA too), so a deployed model keeps the sparsity.

    SLaK / PeLK settings (40% sparsity, 1.3x width, SNIP, magnitude prune,
    random growth, cosine-decayed rate): T: ``update_interval=2000,
    prune_rate=0.5``; S and B: ``update_interval=100, prune_rate=0.3``
    (SLaK counts optimizer steps: multiply by ``accumulative_counts`` when
    accumulating gradients).

    Example:
        >>> custom_hooks = [dict(type='lkmm.DynamicSparsityHook',
        ...                      sparsity=0.4, update_interval=100,
        ...                      prune_rate=0.3)]

    Args:
        sparsity (float): Fraction of the selected weights kept at zero, in
            [0, 1); 0 turns the hook off. Defaults to 0.4.
        init (str): Density allocation, one of :data:`INIT_MODES`.
            Defaults to 'snip'.
        update_interval (int): Iterations between prune / regrow updates.
            Defaults to 100.
        prune_rate (float): Initial fraction of each layer's active weights
            moved per update, in [0, 1]. Defaults to 0.3.
        rate_decay (str): One of :data:`DECAY_MODES`. Defaults to 'cosine'.
        min_prune_rate (float): Final rate of the decay. Defaults to 0.005
            (SLaK).
        stop_iter (int | float, optional): Last iteration of updates (and
            end of the decay): an int, or a float in (0, 1] as a fraction of
            the training iterations. Defaults to None (the whole training,
            as SLaK).
        include, exclude, module_types, min_ndim, dense_threshold: Which
            parameters are sparsified, see :class:`SparseMasks`.
        erk_power_scale (float): ERK exponent. Defaults to 1.0.
        snip_positions (str): ``'random'`` (SLaK) or ``'score'``, see
            :meth:`SparseMasks.init`. Defaults to 'random'.
        prune_mode (str): One of :data:`PRUNE_MODES`. Defaults to
            'magnitude'.
        growth_mode (str): One of :data:`GROWTH_MODES`. Defaults to
            'random'.
        optimizer_state_keys (Sequence[str]): Optimizer state masked with
            the weights. Defaults to :data:`DEFAULT_STATE_KEYS`.
        mask_ema (bool): Also mask the averaged model of an ``EMAHook``.
            Defaults to True.
        load_masks (bool): Restore masks from loaded checkpoints. False
            allocates fresh masks, e.g. when fine-tuning with another head.
            Defaults to True.
    """
    # After the optimizer step (in run_iter) and before EMAHook (NORMAL),
    # so the average only sees masked weights, and before CheckpointHook
    # (VERY_LOW), so a checkpoint holds the updated masks.
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 sparsity: float = 0.4,
                 init: str = 'snip',
                 update_interval: int = 100,
                 prune_rate: float = 0.3,
                 rate_decay: str = 'cosine',
                 min_prune_rate: float = DEFAULT_MIN_PRUNE_RATE,
                 stop_iter: Optional[Union[int, float]] = None,
                 include: PatternType = None,
                 exclude: PatternType = None,
                 module_types: Optional[Sequence[Union[type, str]]] = None,
                 min_ndim: int = 2,
                 dense_threshold: float = 0.99,
                 erk_power_scale: float = 1.0,
                 snip_positions: str = 'random',
                 prune_mode: str = 'magnitude',
                 growth_mode: str = 'random',
                 optimizer_state_keys: Sequence[str] = DEFAULT_STATE_KEYS,
                 mask_ema: bool = True,
                 load_masks: bool = True):
        self.sparsity = _check_sparsity(sparsity, 'DynamicSparsityHook')
        self.init = _check_choice(init, INIT_MODES, 'init')
        if isinstance(update_interval, bool) or not isinstance(
                update_interval, int) or update_interval < 1:
            raise ValueError('update_interval must be an int >= 1, got '
                             f'{update_interval!r}')
        self.update_interval = update_interval
        if not (isinstance(prune_rate, numbers.Real) and 0 <= prune_rate <= 1):
            raise ValueError(f'prune_rate must be in [0, 1], got '
                             f'{prune_rate!r}')
        self.prune_rate = float(prune_rate)
        self.rate_decay = _check_choice(rate_decay, DECAY_MODES,
                                        'rate_decay')
        if not (isinstance(min_prune_rate, numbers.Real)
                and 0 <= min_prune_rate <= 1):
            raise ValueError('min_prune_rate must be in [0, 1], got '
                             f'{min_prune_rate!r}')
        self.min_prune_rate = float(min_prune_rate)
        if stop_iter is not None and not (
                (isinstance(stop_iter, int) and not isinstance(stop_iter, bool)
                 and stop_iter >= 1) or
                (isinstance(stop_iter, float) and 0 < stop_iter <= 1)):
            raise ValueError('stop_iter must be None, an int >= 1 or a float '
                             f'in (0, 1] (fraction of training), got '
                             f'{stop_iter!r}')
        self.stop_iter = stop_iter
        self.snip_positions = _check_choice(snip_positions, SNIP_POSITIONS,
                                            'snip_positions')
        self.prune_mode = _check_choice(prune_mode, PRUNE_MODES,
                                        'prune_mode')
        self.growth_mode = _check_choice(growth_mode, GROWTH_MODES,
                                         'growth_mode')
        self.optimizer_state_keys = tuple(optimizer_state_keys)
        self.mask_ema = mask_ema
        self.load_masks = load_masks
        self.erk_power_scale = erk_power_scale
        self._select_kwargs = dict(
            include=include, exclude=exclude, module_types=module_types,
            min_ndim=min_ndim, dense_threshold=dense_threshold)
        # Fail at build time, not after the first epoch's data loading.
        _compile_patterns(include, 'include')
        _compile_patterns(exclude, 'exclude')
        _type_names(module_types)
        _check_selection(min_ndim, dense_threshold)
        self.masks: Optional[SparseMasks] = None
        self._pending: Optional[dict] = None
        # SNIP waits for the first batch (before_train_iter).
        self._needs_snip = False

    @property
    def active(self) -> bool:
        return self.sparsity > 0

    # ---------------------------------------------------------- helpers
    @staticmethod
    def _generator(runner, step: int) -> torch.Generator:
        # A function of (seed, iteration) only: a resumed run draws what an
        # uninterrupted one does, and torch's global RNG is not consumed.
        seed = getattr(runner, 'seed', None) or 0
        return torch.Generator().manual_seed(
            ((seed + 0x5EED) * 1_000_003 + step) % (2**63))

    def _stop(self, runner) -> int:
        if self.stop_iter is None:
            return runner.max_iters
        if isinstance(self.stop_iter, float):
            return max(1, round(self.stop_iter * runner.max_iters))
        return self.stop_iter

    def _ema_modules(self, runner) -> List[nn.Module]:
        from mmengine.hooks import EMAHook
        return [h.ema_model.module for h in runner.hooks
                if isinstance(h, EMAHook)
                and getattr(h, 'ema_model', None) is not None]

    def _apply(self, runner) -> None:
        self.masks.apply(runner.optim_wrapper, self.optimizer_state_keys)
        if self.mask_ema:
            for module in self._ema_modules(runner):
                apply_sparsity_masks(module, self.masks)

    def _ready(self, runner, how: str) -> None:
        self.masks.broadcast()
        self._apply(runner)
        runner.logger.info(
            f'DynamicSparsityHook: masks {how}; selected weights at density '
            f'{self.masks.selected_density():.4f} (target '
            f'{1 - self.sparsity:.4f}), {len(self.masks.masks)} sparse layers '
            f'at {self.masks.density:.4f}\n' +
            sparse_param_summary(self.masks.model, self.masks))

    # ------------------------------------------------------------ hooks
    def make_masks(self, model: nn.Module) -> SparseMasks:
        """Empty masks over the weights this hook sparsifies in ``model``
        (its sparsity and selection; allocate them with
        :meth:`SparseMasks.init`)."""
        return SparseMasks(model, self.sparsity, **self._select_kwargs)

    def before_train(self, runner) -> None:
        if not self.active:
            if self._pending is not None:
                runner.logger.info('DynamicSparsityHook: sparsity=0, the '
                                   'checkpoint masks are not used')
            return
        self.masks = self.make_masks(runner.model)
        if self._pending is not None:
            state, self._pending = self._pending, None
            self.masks.load_state_dict(state)
            saved = state.get('sparsity')
            if saved is not None and abs(saved - self.sparsity) > 1e-9:
                runner.logger.warning(
                    f'DynamicSparsityHook: the checkpoint masks were made '
                    f'for sparsity {saved}, the config asks {self.sparsity}'
                    '; training continues with the checkpoint masks')
            self._ready(runner, 'restored from the checkpoint')
        elif self.init != 'snip':
            self.masks.init(self.init,
                            generator=self._generator(runner, runner.iter),
                            erk_power_scale=self.erk_power_scale)
            self._ready(runner, f'initialized ({self.init})')
        else:
            self._needs_snip = True

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if not self._needs_snip:
            return
        self._needs_snip = False
        if data_batch is None:
            raise ValueError("DynamicSparsityHook init='snip' needs the "
                             'data batch in before_train_iter')
        self.masks.init(
            'snip', data_batch=data_batch,
            generator=self._generator(runner, runner.iter),
            snip_positions=self.snip_positions)
        self._ready(runner, f'initialized (snip on the batch of iteration '
                    f'{runner.iter})')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self.active or self.masks is None:
            return
        step = runner.iter + 1  # iterations done, this one included
        stop = self._stop(runner)
        if step % self.update_interval == 0 and step < stop:
            rate = prune_rate_schedule(step, stop, self.prune_rate,
                                       self.rate_decay, self.min_prune_rate)
            moved = self.masks.prune_and_regrow(
                rate, generator=self._generator(runner, step),
                prune_mode=self.prune_mode, growth_mode=self.growth_mode)
            self.masks.broadcast()
            runner.logger.info(
                f'DynamicSparsityHook: iteration {step}: prune rate '
                f'{rate:.4f}, {sum(moved.values())} weights pruned and '
                f'regrown in {len(moved)} layers, density '
                f'{self.masks.density:.4f}')
        self._apply(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.active and self.masks is not None:
            checkpoint[CHECKPOINT_KEY] = self.masks.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None or not self.load_masks:
            return
        if self.active and self.masks is not None:  # loaded mid-training
            self.masks.load_state_dict(state)
            self._apply(runner)
        else:
            self._pending = state
