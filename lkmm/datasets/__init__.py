from .synthetic import (SHAPES_CLS_CLASSES, SHAPES_METAINFO,
                        make_shapes_classification, make_shapes_segmentation)

__all__ = [
    'SHAPES_CLS_CLASSES', 'SHAPES_METAINFO', 'make_shapes_classification',
    'make_shapes_segmentation'
]
