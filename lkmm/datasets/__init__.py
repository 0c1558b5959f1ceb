from .synthetic import (
                        SHAPES_CLS_CLASSES,
                        SHAPES_METAINFO,
                        make_shapes_classification,
                        make_shapes_segmentation,
)
from .synthetic_cityscapes import (
                        SHAPES_CITYSCAPES_TRAIN_IDS,
                        make_shapes_cityscapes,
)
from .synthetic_coco import SHAPES_COCO_METAINFO, make_shapes_coco

__all__ = [
    'SHAPES_CLS_CLASSES', 'SHAPES_METAINFO', 'make_shapes_classification',
    'make_shapes_segmentation', 'SHAPES_CITYSCAPES_TRAIN_IDS',
    'make_shapes_cityscapes', 'SHAPES_COCO_METAINFO', 'make_shapes_coco'
]
