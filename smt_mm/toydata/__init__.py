"""Generated toy datasets (never downloaded) for demos and end-to-end tests.

:mod:`~smt_mm.toydata.shapes` draws deterministic scenes of simple shapes; the dataset writers
lay them out in the formats the OpenMMLab toolboxes read as they are. ``tools/toy_data.py`` is
the command line for all of them.
"""

from .ade20k import ade20k_classes, ade20k_paths, generate_ade20k, make_ade20k_split
from .coco import coco_paths, generate_coco, make_coco_split
from .imagenet import (
    draw_shape_image,
    generate_imagenet,
    imagenet_paths,
    make_imagenet_split,
    toy_classes,
)
from .shapes import (
    DEFAULT_CATEGORIES,
    SHAPE_CATEGORIES,
    ShapeInstance,
    mask_to_polygons,
    polygon_mask,
    render_label_map,
    sample_scene,
    shape_polygon,
    textured_background,
)

__all__ = [
    'DEFAULT_CATEGORIES',
    'SHAPE_CATEGORIES',
    'ShapeInstance',
    'ade20k_classes',
    'ade20k_paths',
    'coco_paths',
    'draw_shape_image',
    'generate_ade20k',
    'generate_coco',
    'generate_imagenet',
    'imagenet_paths',
    'make_ade20k_split',
    'make_coco_split',
    'make_imagenet_split',
    'mask_to_polygons',
    'polygon_mask',
    'render_label_map',
    'sample_scene',
    'shape_polygon',
    'textured_background',
    'toy_classes',
]
