from .layer_decay import DECAY_TYPES, LayerDecayOptimWrapperConstructor

__all__ = ['DECAY_TYPES', 'LayerDecayOptimWrapperConstructor']
