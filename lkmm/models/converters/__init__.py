"""Checkpoint converters from other RepLKNet implementations to lkmm."""
from .replknet import (REPLKNET_FORMATS, REPLKNET_TARGETS, ConversionReport,
                       build_replknet_model, compare_state_dict_with_model,
                       convert_replknet_state_dict, detect_replknet_format,
                       extract_state_dict, head_num_classes,
                       infer_replknet_kwargs)

__all__ = [
    'REPLKNET_FORMATS', 'REPLKNET_TARGETS', 'ConversionReport',
    'build_replknet_model', 'compare_state_dict_with_model',
    'convert_replknet_state_dict', 'detect_replknet_format',
    'extract_state_dict', 'head_num_classes', 'infer_replknet_kwargs'
]
