from .hooks import BaselineValHook, IterationSeedHook, PretrainedMatchHook
from .optimizers import LayerDecayOptimWrapperConstructor  # noqa: F401
from .sparsity import (
                       DynamicSparsityHook,
                       SparseMasks,
                       apply_sparsity_masks,
                       count_nonzero_params,
                       sparse_param_summary,
)

__all__ = [
    'BaselineValHook', 'IterationSeedHook', 'PretrainedMatchHook',
    'DynamicSparsityHook',
    'SparseMasks', 'apply_sparsity_masks', 'count_nonzero_params',
    'sparse_param_summary'
]
