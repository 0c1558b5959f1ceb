"""The prune-rate schedule of dynamic sparse training (SLaK's
``CosineDecay`` and simpler ones; see ``docs/sparsity.md``)."""
import math

from .validation import check_choice

#: Prune-rate schedules of :func:`prune_rate_schedule`.
DECAY_MODES = ('cosine', 'linear', 'constant')

#: SLaK's ``CosineDecay`` default ``eta_min``.
DEFAULT_MIN_PRUNE_RATE = 0.005


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
    check_choice(decay, DECAY_MODES, 'rate_decay')
    if decay == 'constant':
        return float(initial)
    if total <= 0:
        raise ValueError(f'total must be > 0, got {total}')
    floor = min(min_rate, initial)
    frac = min(max(step, 0), total) / total
    if decay == 'cosine':
        return floor + (initial - floor) * (1 + math.cos(math.pi * frac)) / 2
    return initial + (floor - initial) * frac
