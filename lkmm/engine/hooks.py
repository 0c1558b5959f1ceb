"""mmengine hooks registered in the ``lkmm`` scope."""
import numbers
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook

from lkmm.registry import HOOKS


def _is_number(value) -> bool:
    # numpy registers its scalar types with `numbers` (np.float32 is Real).
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return isinstance(value, numbers.Real)


@HOOKS.register_module()
class BaselineValHook(Hook):
    """Validate the untrained model before training and compare at the end.

    Shows a reader that a run learned something: before the first iteration
    the validation loop runs once and its metrics are logged as
    ``untrained/<name>``; after training the final validation metrics are
    printed beside them with their ratio. Skipped when resuming.

    Args:
        metric (str, optional): Metric to compare at the end, e.g. ``'mIoU'``;
            all metrics are logged regardless. Defaults to None (the first
            metric reported).
    """
    priority = 'LOW'

    def __init__(self, metric: Optional[str] = None):
        self.metric = metric
        self.untrained: Optional[Dict[str, float]] = None
        self.latest: Optional[Dict[str, float]] = None
        self._running_baseline = False

    def before_train(self, runner) -> None:
        if runner.iter > 0 or runner.val_loop is None:
            return
        self._running_baseline = True
        try:
            metrics = runner.val_loop.run()
        finally:
            self._running_baseline = False
        # Metrics may be numpy scalars (np.float32 is no python float).
        self.untrained = {
            k: float(v) for k, v in metrics.items() if _is_number(v)
        }
        runner.logger.info('untrained model: ' + ', '.join(
            f'{k}: {v:.4f}' for k, v in self.untrained.items()))
        for key, value in self.untrained.items():
            runner.message_hub.update_info(f'untrained/{key}', value)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not self._running_baseline and metrics:
            self.latest = {
                k: float(v) for k, v in metrics.items() if _is_number(v)
            }

    def _pick(self, metrics: Dict[str, float]) -> str:
        if self.metric is None:
            return next(iter(metrics))
        for key in metrics:
            if key == self.metric or key.endswith('/' + self.metric):
                return key
        raise KeyError(f'BaselineValHook metric "{self.metric}" not in '
                       f'the validation metrics {list(metrics)}')

    def after_train(self, runner) -> None:
        if self.untrained is None or self.latest is None:
            return
        key = self._pick(self.latest)
        before = self.untrained.get(key, float('nan'))
        after = self.latest[key]
        change = f'{after / before:.1f}x' if before else 'from zero'
        runner.logger.info(f'{key}: untrained {before:.4f} -> trained '
                           f'{after:.4f} ({change})')


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Reseed torch's RNG at every iteration from ``(seed, iteration)``.

    mmengine reseeds on resume and replays the dataloader, so data
    augmentation (numpy / python RNG) continues exactly; but random numbers
    the model draws from torch (drop path, dropout) depend on every earlier
    iteration and are not replayed, so a resumed run diverges from an
    uninterrupted one. Seeding torch from the iteration number makes those
    draws a function of the iteration alone: a run killed and resumed ends
    with the same weights as one that never stopped (deterministic CPU
    settings).

    Args:
        offset (int): Added to the run's seed, so the streams differ from the
            one used for weight initialization. Defaults to 1.
    """
    priority = 'VERY_HIGH'

    def __init__(self, offset: int = 1):
        self.offset = offset

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        seed = runner.seed + self.offset
        randomness = runner.cfg.get('randomness') or {}
        if randomness.get('diff_rank_seed', False):
            seed += runner.rank
        torch.manual_seed(seed * 1_000_003 + runner.iter)


@HOOKS.register_module()
class PretrainedMatchHook(Hook):
    """Stop when ``load_from`` fills too few of the model's tensors.

    mmengine loads ``load_from`` with ``strict=False``; a checkpoint in
    another implementation's layout then loads nothing and training starts
    from random weights. This hook checks the loaded checkpoint against the
    model (:func:`lkmm.utils.pretrained_match.check_pretrained_match`) and
    names the converter that fits it. lkmm's ``tools/train.py`` adds it
    whenever a config sets ``load_from`` (not when resuming).
    """
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from mmengine.model import BaseTTAModel, is_model_wrapper

        from lkmm.utils.pretrained_match import check_loaded_checkpoint
        model = runner.model
        # As mmengine loads it: into the wrapped model, and into the model
        # a test-time-augmentation wrapper holds.
        if is_model_wrapper(model):
            model = model.module
        if isinstance(model, BaseTTAModel):
            model = model.module
        check_loaded_checkpoint(model, checkpoint, str(runner._load_from),
                                f'the {type(model).__name__} of the config')
