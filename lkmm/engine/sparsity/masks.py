"""Masks over a model's weights: :class:`SparseMasks` and helpers.

:class:`SparseMasks` selects the weights to sparsify, draws and applies the
masks, moves the sparse pattern (prune and regrow) and saves / restores it;
:func:`apply_sparsity_masks` re-applies saved masks to any model. How this
follows and differs from SLaK's code: ``docs/sparsity.md``.
"""
import math
import numbers
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.dist import broadcast, broadcast_object_list, get_world_size
from mmengine.model import is_model_wrapper

from lkmm.utils.state_dict import remove_prefix

from .allocation import (
    INIT_MODES,
    SNIP_POSITIONS,
    erk_densities,
    snip_selection,
)
from .validation import (
    PatternType,
    check_choice,
    check_selection,
    check_sparsity,
    compile_patterns,
    type_names,
)

#: Checkpoint entry holding :meth:`SparseMasks.state_dict`.
CHECKPOINT_KEY = 'lkmm_sparsity'

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


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP / mmengine wrapper (``model`` if none).

    Args:
        model (nn.Module): A model, wrapped or not.

    Returns:
        nn.Module: The unwrapped model.
    """
    return model.module if is_model_wrapper(model) else model


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
        self.model = unwrap_model(model)
        self.sparsity = check_sparsity(sparsity, 'SparseMasks')
        check_selection(min_ndim, dense_threshold)
        self.dense_threshold = float(dense_threshold)
        self._include = compile_patterns(include, 'include')
        self._exclude = compile_patterns(exclude, 'exclude')
        self._types = type_names(module_types)
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
        check_choice(mode, INIT_MODES, 'init')
        check_choice(snip_positions, SNIP_POSITIONS, 'snip_positions')
        density = 1.0 - self.sparsity
        numels = {n: self._params[n].numel() for n in self.candidates}
        selected: Dict[str, torch.Tensor] = {}
        if mode == 'snip':
            if (loss_fn is None) == (data_batch is None):
                raise ValueError("init='snip' needs exactly one of loss_fn "
                                 'and data_batch')
            chosen = snip_selection(
                self.model, {n: self._params[n] for n in self.candidates},
                loss_fn, data_batch, density)
            counts = {n: int(chosen[n].sum()) for n in self.candidates}
            if snip_positions == 'score':
                selected = chosen
        elif mode == 'erk':
            shapes = {n: self._params[n].shape for n in self.candidates}
            densities = erk_densities(shapes, density, erk_power_scale)
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
        check_choice(prune_mode, PRUNE_MODES, 'prune_mode')
        check_choice(growth_mode, GROWTH_MODES, 'growth_mode')
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
        """Make every rank's masks and sparsified weights those of rank
        ``src`` (no-op if not distributed).

        Ranks can disagree after SNIP on their own batches, even on which
        layers stay dense, and each has already zeroed its weights with its
        own draw: the layer list goes first so that every rank joins the
        same collectives, then the masks, then the weights of every
        candidate layer.
        """
        if get_world_size() <= 1:
            return
        names = [list(self.masks)]
        broadcast_object_list(names, src)
        masks = OrderedDict()
        for name in names[0]:
            param = self._params[name]
            mask = self.masks.get(name)
            if mask is None:
                mask = torch.ones_like(param, dtype=torch.bool)
            data = mask.to(torch.uint8)  # bool is not supported by every
            broadcast(data, src)  # backend
            masks[name] = data.to(param.device).bool()
        self.masks = masks
        with torch.no_grad():
            for name in self.candidates:
                broadcast(self._params[name].data, src)

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
        masks = {remove_prefix(n, 'module.'): m for n, m in masks.items()}
        _check_mask_names(masks, self._params)
        # Copies: the masks change in place during training.
        self.masks = OrderedDict(
            (n, masks[n].to(device=self._params[n].device,
                            dtype=torch.bool).clone().contiguous())
            for n in self._params if n in masks)
        self.apply()


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


MasksLike = Union['SparseMasks', dict, str]


def masks_from(masks: MasksLike) -> Dict[str, torch.Tensor]:
    """name -> bool mask from masks, a (mask) state dict, a checkpoint
    dict or a checkpoint path.

    Args:
        masks (str | dict | SparseMasks): A :class:`SparseMasks`, its state
            dict, a dict of masks, or a checkpoint (dict or path) with a
            ``checkpoint['lkmm_sparsity']`` entry.

    Returns:
        dict[str, torch.Tensor]: Bool masks by parameter name (a DDP
        ``module.`` prefix removed).

    Raises:
        ValueError: no masks in ``masks``.
    """
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
    return {remove_prefix(n, 'module.'): m.bool() for n, m in masks.items()}


@torch.no_grad()
def apply_sparsity_masks(model: nn.Module, checkpoint: MasksLike) -> int:
    """Zero the weights of ``model`` that a sparse run masked.

    Weights saved by :class:`~.hook.DynamicSparsityHook` are already zero where
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
    params = dict(unwrap_model(model).named_parameters())
    masks = masks_from(checkpoint)
    _check_mask_names(masks, params)
    masked = 0
    for name, mask in masks.items():
        off = ~mask.to(params[name].device)
        params[name].masked_fill_(off, 0)
        masked += int(off.sum())
    return masked
