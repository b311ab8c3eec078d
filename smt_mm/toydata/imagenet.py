"""A generated ImageNet-layout classification dataset of simple shapes.

Every image shows one large, roughly centred shape; its class is the shape's outline (colours,
size, rotation and position jitter are random). The background is a flat random colour with
pixel noise by default, so that an SMT-T trained from scratch on the CPU for a minute beats
chance clearly; ``textured=True`` uses the textured backgrounds of the other toy sets (a harder
task). The layout is the one of ImageNet in mmpretrain, so both its ``ImageNet`` /
``CustomDataset`` readers work as they are: with the annotation files, or by scanning the class
folders (the labels agree, because classes are numbered in sorted name order)::

    OUT_DIR/
        meta/classes.txt            one class name per line, line i is label i
        meta/train.txt              lines ``circle/000000.png 0``
        meta/val.txt
        train/circle/000000.png ...
        val/circle/000000.png ...
"""

import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from .shapes import (
    DEFAULT_CATEGORIES,
    SHAPE_CATEGORIES,
    contrasting_color,
    polygon_mask,
    shape_polygon,
    textured_background,
)
from .splits import check_categories, check_split, generate_splits

#: The splits written by :func:`generate_imagenet`, with a fixed seed offset each so that the
#: images of one split do not depend on the size of the other.
SPLITS: dict[str, int] = {'train': 0, 'val': 1}


def imagenet_paths(out_dir: str, split: str) -> tuple[str, str]:
    """The annotation file and the image folder of a split (``'train'`` or ``'val'``)."""
    return osp.join(out_dir, 'meta', f'{split}.txt'), osp.join(out_dir, split)


def toy_classes(categories: Sequence[str] = DEFAULT_CATEGORIES) -> tuple[str, ...]:
    """Return the class names in label order (sorted, like a scan of the class folders).

    Args:
        categories (Sequence[str]): Shape categories. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.

    Returns:
        tuple[str, ...]: The class names; the label of a class is its index.

    Raises:
        ValueError: If ``categories`` is empty or has duplicates.
    """
    check_categories(categories)
    return tuple(sorted(categories))


def draw_shape_image(
    rng: np.random.Generator,
    category: str,
    size: int,
    size_range: tuple[float, float] = (0.75, 0.95),
    max_offset: float = 0.1,
    textured: bool = False,
) -> np.ndarray:
    """Draw one classification image: a single shape in a contrasting colour.

    Args:
        rng (np.random.Generator): The source of randomness.
        category (str): A shape of :data:`~smt_mm.toydata.shapes.SHAPE_CATEGORIES`.
        size (int): Image height and width in pixels.
        size_range (tuple[float, float]): The shape's size (bounding-circle diameter) as
            fractions of ``size``. Defaults to (0.75, 0.95).
        max_offset (float): The largest shift of the shape's centre from the image centre, as
            a fraction of ``size`` per axis. Defaults to 0.1.
        textured (bool): Draw on a textured background instead of a flat one.
            Defaults to False.

    Returns:
        np.ndarray: uint8 (size, size, 3) BGR image.
    """
    if textured:
        image = textured_background(rng, size, size).astype(np.float32)
    else:
        image = rng.uniform(40, 215, size=3) + rng.normal(0, 8, size=(size, size, 3))
    diameter = size * rng.uniform(*size_range)
    center = size / 2 + rng.uniform(-max_offset, max_offset, size=2) * size
    mask = polygon_mask(shape_polygon(rng, category, tuple(center), diameter), size, size)
    reference = image[mask].mean(axis=0) if mask.any() else image.mean(axis=(0, 1))
    image[mask] = contrasting_color(rng, reference) + rng.normal(0, 6, size=(int(mask.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_imagenet_split(
    out_dir: str,
    split: str,
    num_per_class: int,
    size: int = 32,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    textured: bool = False,
) -> list[tuple[str, int]]:
    """Write one split: PNG images in class folders and its annotation file.

    Image ``i`` of class ``label`` is drawn by :func:`draw_shape_image` from
    ``np.random.default_rng([seed, split_id, label, i])``, so a dataset is the same on every
    machine and a larger split starts with the images of a smaller one.

    Args:
        out_dir (str): The dataset root (created if needed).
        split (str): A key of :data:`SPLITS`.
        num_per_class (int): Images per class.
        size (int): Image height and width in pixels. Defaults to 32.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories, one class each. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.
        textured (bool): Textured instead of flat backgrounds. Defaults to False.

    Returns:
        list[tuple[str, int]]: The ``(relative path, label)`` samples, as written to the
        annotation file.

    Raises:
        ValueError: If ``split`` or a category is unknown, ``num_per_class`` < 1 or
            ``size`` < 16.
    """
    check_split(SPLITS, split, num_per_class, 'num_per_class')
    if size < 16:
        raise ValueError(f'size must be >= 16 pixels, got {size}')
    classes = toy_classes(categories)
    unknown = [c for c in classes if c not in SHAPE_CATEGORIES]
    if unknown:
        raise ValueError(f'unknown shape categories {unknown}; choose from {SHAPE_CATEGORIES}')
    ann_file, image_dir = imagenet_paths(out_dir, split)
    os.makedirs(osp.dirname(ann_file), exist_ok=True)

    samples = []
    for label, name in enumerate(classes):
        os.makedirs(osp.join(image_dir, name), exist_ok=True)
        for index in range(num_per_class):
            rng = np.random.default_rng([seed, SPLITS[split], label, index])
            image = draw_shape_image(rng, name, size, textured=textured)
            rel_path = f'{name}/{index:06d}.png'
            cv2.imwrite(osp.join(image_dir, rel_path), image)
            samples.append((rel_path, label))
    with open(ann_file, 'w') as f:
        f.writelines(f'{path} {label}\n' for path, label in samples)
    return samples


def generate_imagenet(
    out_dir: str, num_train_per_class: int = 150, num_val_per_class: int = 25, **options: Any
) -> dict[str, str]:
    """Write the train and val splits and ``meta/classes.txt`` of the toy ImageNet dataset.

    Args:
        out_dir (str): The dataset root (created if needed).
        num_train_per_class (int): Training images per class. Defaults to 150.
        num_val_per_class (int): Validation images per class. Defaults to 25.
        **options: Keyword arguments of :func:`make_imagenet_split` (``size``, ``seed``,
            ``categories``, ``textured``), the same for both splits.

    Returns:
        dict[str, str]: The written annotation files, keyed by split, and the class list under
        ``'classes'``.
    """
    written = generate_splits(
        make_imagenet_split, tuple(SPLITS), lambda root, split: imagenet_paths(root, split)[0],
        out_dir, num_train_per_class, num_val_per_class, **options,
    )  # fmt: skip
    classes = toy_classes(options.get('categories', DEFAULT_CATEGORIES))
    written['classes'] = osp.join(out_dir, 'meta', 'classes.txt')
    with open(written['classes'], 'w') as f:
        f.writelines(f'{name}\n' for name in classes)
    return written
