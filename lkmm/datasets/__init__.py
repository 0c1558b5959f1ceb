from .synthetic import SHAPES_METAINFO, make_shapes_segmentation

__all__ = ['SHAPES_METAINFO', 'make_shapes_segmentation']
