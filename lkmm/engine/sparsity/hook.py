"""SLaK's dynamic sparse training as an mmengine hook,
:class:`DynamicSparsityHook` (registered as ``lkmm.DynamicSparsityHook``).

The hook drives :class:`~.masks.SparseMasks` from the runner. How the
recipe follows and differs from SLaK's code: ``docs/sparsity.md``.
"""
import numbers
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.hooks import Hook

from lkmm.registry import HOOKS

from .allocation import INIT_MODES, SNIP_POSITIONS
from .inspection import sparse_param_summary
from .masks import (
    CHECKPOINT_KEY,
    DEFAULT_STATE_KEYS,
    GROWTH_MODES,
    PRUNE_MODES,
    SparseMasks,
    apply_sparsity_masks,
)
from .schedule import DECAY_MODES, DEFAULT_MIN_PRUNE_RATE, prune_rate_schedule
from .validation import (
    PatternType,
    check_choice,
    check_selection,
    check_sparsity,
    compile_patterns,
    type_names,
)


@HOOKS.register_module()
class DynamicSparsityHook(Hook):
    """SLaK's dynamic sparse training (SLaK, PeLK) as an mmengine hook.

    Keeps ``sparsity`` of the selected weights at zero while the pattern
    moves: masks allocated before training (SNIP on the first training
    batch) or restored from a loaded checkpoint, weights and optimizer state
    re-masked after every step, prune and regrow every ``update_interval``
    iterations, masks saved in ``checkpoint['lkmm_sparsity']``. Masking the
    EMA model too keeps a deployed model sparse. SLaK's settings and where
    lkmm differs: ``docs/sparsity.md``.

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
        self.sparsity = check_sparsity(sparsity, 'DynamicSparsityHook')
        self.init = check_choice(init, INIT_MODES, 'init')
        if isinstance(update_interval, bool) or not isinstance(
                update_interval, int) or update_interval < 1:
            raise ValueError('update_interval must be an int >= 1, got '
                             f'{update_interval!r}')
        self.update_interval = update_interval
        if not (isinstance(prune_rate, numbers.Real) and 0 <= prune_rate <= 1):
            raise ValueError(f'prune_rate must be in [0, 1], got '
                             f'{prune_rate!r}')
        self.prune_rate = float(prune_rate)
        self.rate_decay = check_choice(rate_decay, DECAY_MODES,
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
        self.snip_positions = check_choice(snip_positions, SNIP_POSITIONS,
                                           'snip_positions')
        self.prune_mode = check_choice(prune_mode, PRUNE_MODES,
                                       'prune_mode')
        self.growth_mode = check_choice(growth_mode, GROWTH_MODES,
                                        'growth_mode')
        self.optimizer_state_keys = tuple(optimizer_state_keys)
        self.mask_ema = mask_ema
        self.load_masks = load_masks
        self.erk_power_scale = erk_power_scale
        self._select_kwargs = dict(
            include=include, exclude=exclude, module_types=module_types,
            min_ndim=min_ndim, dense_threshold=dense_threshold)
        # Fail at build time, not after the first epoch's data loading.
        compile_patterns(include, 'include')
        compile_patterns(exclude, 'exclude')
        type_names(module_types)
        check_selection(min_ndim, dense_threshold)
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
