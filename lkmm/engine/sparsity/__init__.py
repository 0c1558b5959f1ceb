"""Dynamic sparsity of SLaK (used by SLaK and PeLK) for mmengine.

A network is trained sparse from scratch: its sparsity stays fixed while the
sparse pattern moves. The parts:

* :mod:`.masks`: :class:`SparseMasks` (which weights, their masks, prune and
  regrow, state dict) and :func:`apply_sparsity_masks`;
* :mod:`.allocation`: per-layer densities (SNIP, ERK, uniform);
* :mod:`.schedule`: the decaying prune rate, :func:`prune_rate_schedule`;
* :mod:`.inspection`: read-only counts and summaries
  (:func:`count_nonzero_params`, :func:`sparse_param_summary`);
* :mod:`.hook`: :class:`DynamicSparsityHook`, the mmengine hook;
* :mod:`.validation`: argument checks shared by the above.

How this follows and where it differs from SLaK's official code
(``VITA-Group/SLaK``): ``docs/sparsity.md``.
"""
from .allocation import INIT_MODES
from .hook import DynamicSparsityHook
from .inspection import count_nonzero_params, sparse_param_summary
from .masks import CHECKPOINT_KEY, SparseMasks, apply_sparsity_masks
from .schedule import DECAY_MODES, prune_rate_schedule

__all__ = [
    'CHECKPOINT_KEY', 'INIT_MODES', 'DECAY_MODES', 'SparseMasks',
    'DynamicSparsityHook', 'prune_rate_schedule', 'count_nonzero_params',
    'sparse_param_summary', 'apply_sparsity_masks'
]
