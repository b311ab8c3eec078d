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

import cv2
import numpy as np

from .shapes import DEFAULT_CATEGORIES, render_label_map, sample_scene

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
    if not categories or len(set(categories)) != len(categories):
        raise ValueError(f'categories must be non-empty and distinct, got {list(categories)}')
    return (BACKGROUND_CLASS, *categories)


def ade20k_paths(out_dir: str, split: str) -> tuple[str, str]:
    """Return a split's image and annotation folders.

    Args:
        out_dir (str): The dataset root.
        split (str): ``'training'`` or ``'validation'``.

    Returns:
        tuple[str, str]: ``(image_dir, annotation_dir)``.
    """
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


def make_ade20k_split(
    out_dir: str,
    split: str,
    num_images: int,
    height: int = 128,
    width: int = 128,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    num_objects: tuple[int, int] = (2, 6),
    size_range: tuple[float, float] = (0.12, 0.8),
    boundary_width: int = 1,
    textured: bool = False,
    class_colors: bool = True,
) -> list[str]:
    """Write one split: JPEG images and PNG label maps with the same file names.

    Image ``i`` of a split is drawn from ``np.random.default_rng([seed, split_id, i])``, so a
    dataset is the same on every machine and for every ``num_images`` (a larger split starts
    with the images of a smaller one).

    Args:
        out_dir (str): The dataset root (created if needed).
        split (str): A key of :data:`SPLITS`.
        num_images (int): The number of images.
        height (int): The image height. Defaults to 128.
        width (int): The image width. Defaults to 128.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories; see :func:`ade20k_classes`.
            Defaults to :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.
        num_objects (tuple[int, int]): Inclusive range of objects per image.
            Defaults to (2, 6).
        size_range (tuple[float, float]): Object sizes as fractions of the short image side,
            drawn log-uniformly. Defaults to (0.12, 0.8).
        boundary_width (int): Half-width in pixels of the unlabelled band between regions;
            0 labels every pixel. Defaults to 1.
        textured (bool): Draw on textured backgrounds instead of flat one-colour ones (a
            harder task). Defaults to False.
        class_colors (bool): Paint each shape in its category's hue on a grey background
            (see :func:`~smt_mm.toydata.shapes.sample_scene`); False leaves only the outline
            to tell the shapes apart (a much harder task for a from-scratch segmenter).
            Defaults to True.

    Returns:
        list[str]: The written file names without extension, in order.

    Raises:
        ValueError: If ``split`` is unknown, ``num_images`` < 1 or the categories are invalid.
    """
    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; choose from {list(SPLITS)}')
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    ade20k_classes(categories)  # validates the categories
    image_dir, ann_dir = ade20k_paths(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)

    names = []
    for index in range(num_images):
        rng = np.random.default_rng([seed, SPLITS[split], index])
        image, instances = sample_scene(
            rng,
            height,
            width,
            num_objects=num_objects,
            categories=categories,
            size_range=size_range,
            textured=textured,
            class_colors=class_colors,
        )
        label_map = render_label_map(
            instances, height, width, background=BACKGROUND, offset=BACKGROUND + 1
        )
        label_map[boundary_band(label_map, boundary_width)] = UNLABELLED
        name = f'{index:06d}'
        cv2.imwrite(osp.join(image_dir, name + '.jpg'), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(ann_dir, name + '.png'), label_map)
        names.append(name)
    return names


def generate_ade20k(
    out_dir: str,
    num_train: int = 200,
    num_val: int = 50,
    height: int = 128,
    width: int = 128,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    textured: bool = False,
    class_colors: bool = True,
) -> dict[str, str]:
    """Write the training and validation splits of the toy ADE20K dataset.

    Args:
        out_dir (str): The dataset root (created if needed).
        num_train (int): Training images. Defaults to 200.
        num_val (int): Validation images. Defaults to 50.
        height (int): The image height. Defaults to 128.
        width (int): The image width. Defaults to 128.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.
        textured (bool): Textured instead of flat backgrounds. Defaults to False.
        class_colors (bool): One hue per category (see :func:`make_ade20k_split`).
            Defaults to True.

    Returns:
        dict[str, str]: The annotation folder of each split, keyed by split.
    """
    written = {}
    for split, num_images in (('training', num_train), ('validation', num_val)):
        make_ade20k_split(
            out_dir, split, num_images, height, width, seed, categories,
            textured=textured, class_colors=class_colors,
        )  # fmt: skip
        written[split] = ade20k_paths(out_dir, split)[1]
    return written
