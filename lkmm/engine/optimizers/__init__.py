from .layer_decay import (LAYER_ID_FUNCTIONS,
                          LayerDecayOptimWrapperConstructor,
                          register_layer_id_function, replknet_layer_id)

__all__ = [
    'LAYER_ID_FUNCTIONS', 'LayerDecayOptimWrapperConstructor',
    'register_layer_id_function', 'replknet_layer_id'
]
