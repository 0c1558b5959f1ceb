"""Dynamic sparsity of SLaK (used by SLaK and PeLK) for mmengine.

A network is trained sparse from scratch: its sparsity stays fixed while the
sparse pattern moves. :class:`SparseMasks` holds the masks and
:class:`DynamicSparsityHook` drives them from the runner. The modules, and
how this follows and differs from SLaK's official code (``VITA-Group/SLaK``):
``docs/sparsity.md``.
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
