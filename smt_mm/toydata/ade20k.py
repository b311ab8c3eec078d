"""A generated ADE20K-layout semantic-segmentation dataset of simple shapes.

The layout is the one of ``ADEChallengeData2016``, so mmseg's dataset classes and ``IoUMetric``
read it as they are; a config changes only ``data_root`` and ``metainfo``::

    OUT_DIR/
        images/training/000000.jpg ...        BGR JPEG images
        images/validation/000000.jpg ...
        annotations/training/000000.png ...   uint8 label maps, same names as the images
        annotations/validation/000000.png ...

The label values follow ADE20K's convention: 0 means "unlabelled" and is ignored by
``reduce_zero_label=True`` (every other value ``v`` becomes class ``v - 1``). Value 1 is the
background, values 2, 3, ... are the shape categories in the order given; :func:`ade20k_classes`
returns the class names in that order. The thin band where two regions meet is written as 0:
its pixels mix both sides after JPEG compression, so they are left out of training and
evaluation, like the unlabelled boundaries of real datasets.

Object sizes span a wide range (by default 12% to 80% of the short image side), so a model sees
both small and large shapes, and multi-scale testing has something to gain. By default each
shape is painted in its category's hue on a flat grey background, so that an SMT-T UPerNet
trained from scratch on a CPU learns every class within minutes; ``class_colors=False`` leaves
only the outline to tell the classes apart and ``textured=True`` draws the textured backgrounds
of the other toy sets (harder tasks).
"""

import os
import os.path as osp
from collections.abc import Sequence
from functools import partial
from typing import Any

import cv2
import numpy as np

from .shapes import DEFAULT_CATEGORIES, render_label_map
from .splits import check_categories, check_split, generate_splits, split_scenes, write_jpeg

#: The splits written by :func:`generate_ade20k`, with a fixed seed offset each so that the
#: images of one split do not depend on the number of images of the other.
SPLITS: dict[str, int] = {'training': 0, 'validation': 1}

#: The label-map value of unlabelled pixels (ignored with ``reduce_zero_label=True``).
UNLABELLED = 0

#: The label-map value of the background; shape ``i`` of ``categories`` is ``BACKGROUND + 1 + i``.
BACKGROUND = 1

#: The class name of the background.
BACKGROUND_CLASS = 'background'


def ade20k_classes(categories: Sequence[str] = DEFAULT_CATEGORIES) -> tuple[str, ...]:
    """Return the class names in label order, as a config's ``metainfo['classes']``.

    Args:
        categories (Sequence[str]): Shape categories. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.

    Returns:
        tuple[str, ...]: ``('background', *categories)``; after ``reduce_zero_label``, the
        class of label-map value ``v`` is entry ``v - 1``.

    Raises:
        ValueError: If ``categories`` is empty or has duplicates.
    """
    check_categories(categories)
    return (BACKGROUND_CLASS, *categories)


def ade20k_paths(out_dir: str, split: str) -> tuple[str, str]:
    """The image and annotation folders of a split (``'training'`` or ``'validation'``)."""
    return osp.join(out_dir, 'images', split), osp.join(out_dir, 'annotations', split)


def boundary_band(label_map: np.ndarray, width: int = 1) -> np.ndarray:
    """Find the pixels within ``width`` pixels of a change of label.

    Args:
        label_map (np.ndarray): uint8 (H, W) label map.
        width (int): The half-width of the band in pixels; 0 gives an empty band.
            Defaults to 1.

    Returns:
        np.ndarray: bool (H, W), True on the band.
    """
    if width <= 0:
        return np.zeros(label_map.shape, bool)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    return cv2.dilate(label_map, kernel) != cv2.erode(label_map, kernel)


#: The scenes of the toy ADE20K dataset: keyword arguments of
#: :func:`~smt_mm.toydata.shapes.sample_scene`, each overridable in :func:`make_ade20k_split`.
#: ``class_colors=False`` leaves only the outline to tell the shapes apart (a much harder task
#: for a from-scratch segmenter), ``textured=True`` draws textured backgrounds.
SCENE: dict[str, Any] = dict(
    height=128, width=128, categories=DEFAULT_CATEGORIES, num_objects=(2, 6),
    size_range=(0.12, 0.8), textured=False, class_colors=True,
)  # fmt: skip


def make_ade20k_split(
    out_dir: str, split: str, num_images: int, seed: int = 0, boundary_width: int = 1, **scene: Any
) -> list[str]:
    """Write one split: JPEG images and PNG label maps with the same file names.

    Image ``i`` of a split is drawn as described in :func:`~smt_mm.toydata.splits.split_scenes`.

    Args:
        out_dir (str): The dataset root (created if needed).
        split (str): A key of :data:`SPLITS`.
        num_images (int): The number of images.
        seed (int): The dataset seed. Defaults to 0.
        boundary_width (int): Half-width in pixels of the unlabelled band between regions;
            0 labels every pixel. Defaults to 1.
        **scene: Changes to :data:`SCENE` (image ``height`` and ``width``, ``categories``
            (see :func:`ade20k_classes`), ``num_objects``, ``size_range``, ...).

    Returns:
        list[str]: The written file names without extension, in order.

    Raises:
        ValueError: If ``split`` is unknown, ``num_images`` < 1 or the categories are invalid.
    """
    scene = SCENE | scene
    check_split(SPLITS, split, num_images, 'num_images')
    check_categories(scene['categories'])
    image_dir, ann_dir = ade20k_paths(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)

    names = []
    for name, image, instances in split_scenes(seed, SPLITS[split], num_images, **scene):
        height, width = image.shape[:2]
        label_map = render_label_map(
            instances, height, width, background=BACKGROUND, offset=BACKGROUND + 1
        )
        label_map[boundary_band(label_map, boundary_width)] = UNLABELLED
        write_jpeg(osp.join(image_dir, name + '.jpg'), image)
        cv2.imwrite(osp.join(ann_dir, name + '.png'), label_map)
        names.append(name)
    return names


#: ``generate_ade20k(out_dir, num_train=200, num_val=50, **options)`` writes the training and
#: validation splits with the keyword arguments of :func:`make_ade20k_split` and returns their
#: annotation folders, keyed by split (see :func:`~smt_mm.toydata.splits.generate_splits`).
generate_ade20k = partial(
    generate_splits,
    make_ade20k_split,
    tuple(SPLITS),
    lambda root, split: ade20k_paths(root, split)[1],
)
