from .hooks import BaselineValHook, IterationSeedHook

__all__ = ['BaselineValHook', 'IterationSeedHook']
