"""The layer-depth interface between backbones and the layer-decay
optimizer constructor: a backbone answers ``get_layer_depth(param_name,
prefix, decay_type)`` for each ``decay_type`` here, and the constructor
accepts only these (so the engine needs no backbone to check a config)."""

__all__ = ['DECAY_TYPES']

#: ``decay_type`` values of ``get_layer_depth``: one id per block
#: (``'layer_wise'``) or per stage (``'stage_wise'``).
DECAY_TYPES = ('layer_wise', 'stage_wise')
