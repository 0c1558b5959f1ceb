"""Checkpoint converters from other implementations to lkmm (RepLKNet,
ParCNetV2, SLaK)."""
from .common import (
                     ConversionReport,
                     compare_state_dict_with_model,
                     extract_state_dict,
                     head_num_classes,
)
from .parcnetv2 import (
                     PARCNETV2_FORMATS,
                     PARCNETV2_TARGETS,
                     build_parcnetv2_model,
                     check_against_model,
                     convert_parcnetv2_state_dict,
                     detect_parcnetv2_format,
                     infer_parcnetv2_kwargs,
                     lkmm_to_parcnetv2_state_dict,
)
from .replknet import (
                     REPLKNET_FORMATS,
                     REPLKNET_TARGETS,
                     build_replknet_model,
                     convert_replknet_state_dict,
                     detect_replknet_format,
                     infer_replknet_kwargs,
)
from .slak import (
                     SLAK_FORMATS,
                     SLAK_TARGETS,
                     build_slak_model,
                     convert_slak_state_dict,
                     detect_slak_format,
                     infer_slak_kwargs,
                     is_slak_state_dict,
)

__all__ = [
    'REPLKNET_FORMATS', 'REPLKNET_TARGETS', 'ConversionReport',
    'build_replknet_model', 'compare_state_dict_with_model',
    'convert_replknet_state_dict', 'detect_replknet_format',
    'extract_state_dict', 'head_num_classes', 'infer_replknet_kwargs',
    'PARCNETV2_FORMATS', 'PARCNETV2_TARGETS', 'build_parcnetv2_model',
    'check_against_model',
    'convert_parcnetv2_state_dict', 'detect_parcnetv2_format',
    'infer_parcnetv2_kwargs', 'lkmm_to_parcnetv2_state_dict',
    'SLAK_FORMATS', 'SLAK_TARGETS', 'build_slak_model',
    'convert_slak_state_dict', 'detect_slak_format', 'infer_slak_kwargs',
    'is_slak_state_dict'
]
