from .hooks import BaselineValHook, IterationSeedHook
from .optimizers import LayerDecayOptimWrapperConstructor  # noqa: F401

__all__ = ['BaselineValHook', 'IterationSeedHook']
