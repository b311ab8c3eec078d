"""A generated ImageNet-layout classification dataset of simple shapes.

Every image shows one shape on a textured background; its class is the shape's outline (colours
are random). The layout is the one of ImageNet in mmpretrain, so both its ``ImageNet`` /
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

import cv2
import numpy as np

from .shapes import DEFAULT_CATEGORIES, sample_scene

#: The splits written by :func:`generate_imagenet`, with a fixed seed offset each so that the
#: images of one split do not depend on the size of the other.
SPLITS: dict[str, int] = {'train': 0, 'val': 1}


def imagenet_paths(out_dir: str, split: str) -> tuple[str, str]:
    """Return where a split's annotation file and image folder are.

    Args:
        out_dir (str): The dataset root.
        split (str): ``'train'`` or ``'val'``.

    Returns:
        tuple[str, str]: ``(annotation_file, image_dir)``.
    """
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
    if not categories or len(set(categories)) != len(categories):
        raise ValueError(f'categories must be non-empty and distinct, got {list(categories)}')
    return tuple(sorted(categories))


def make_imagenet_split(
    out_dir: str,
    split: str,
    num_per_class: int,
    size: int = 64,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    size_range: tuple[float, float] = (0.45, 0.9),
) -> list[tuple[str, int]]:
    """Write one split: PNG images in class folders and its annotation file.

    Image ``i`` of class ``label`` is drawn from
    ``np.random.default_rng([seed, split_id, label, i])``, so a dataset is the same on every
    machine and a larger split starts with the images of a smaller one.

    Args:
        out_dir (str): The dataset root (created if needed).
        split (str): A key of :data:`SPLITS`.
        num_per_class (int): Images per class.
        size (int): Image height and width in pixels. Defaults to 64.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories, one class each. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.
        size_range (tuple[float, float]): Shape sizes (bounding-circle diameter) as fractions
            of ``size``. Defaults to (0.45, 0.9).

    Returns:
        list[tuple[str, int]]: The ``(relative path, label)`` samples, as written to the
        annotation file.

    Raises:
        ValueError: If ``split`` is unknown, ``num_per_class`` < 1 or ``size`` < 16.
    """
    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; choose from {list(SPLITS)}')
    if num_per_class < 1:
        raise ValueError(f'num_per_class must be >= 1, got {num_per_class}')
    if size < 16:
        raise ValueError(f'size must be >= 16 pixels, got {size}')
    ann_file, image_dir = imagenet_paths(out_dir, split)
    os.makedirs(osp.dirname(ann_file), exist_ok=True)

    samples = []
    for label, name in enumerate(toy_classes(categories)):
        os.makedirs(osp.join(image_dir, name), exist_ok=True)
        for index in range(num_per_class):
            rng = np.random.default_rng([seed, SPLITS[split], label, index])
            instances: list = []
            while not instances:  # a placement can fail; draw again from the same stream
                image, instances = sample_scene(
                    rng, size, size, num_objects=1, categories=(name,), size_range=size_range
                )
            rel_path = f'{name}/{index:06d}.png'
            cv2.imwrite(osp.join(image_dir, rel_path), image)
            samples.append((rel_path, label))
    with open(ann_file, 'w') as f:
        f.writelines(f'{path} {label}\n' for path, label in samples)
    return samples


def generate_imagenet(
    out_dir: str,
    num_train_per_class: int = 100,
    num_val_per_class: int = 25,
    size: int = 64,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
) -> dict[str, str]:
    """Write the train and val splits and ``meta/classes.txt`` of the toy ImageNet dataset.

    Args:
        out_dir (str): The dataset root (created if needed).
        num_train_per_class (int): Training images per class. Defaults to 100.
        num_val_per_class (int): Validation images per class. Defaults to 25.
        size (int): Image height and width in pixels. Defaults to 64.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories, one class each. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.

    Returns:
        dict[str, str]: The written annotation files, keyed by split, and the class list under
        ``'classes'``.
    """
    written = {}
    for split, num in (('train', num_train_per_class), ('val', num_val_per_class)):
        make_imagenet_split(out_dir, split, num, size, seed, categories)
        written[split] = imagenet_paths(out_dir, split)[0]
    classes_file = osp.join(out_dir, 'meta', 'classes.txt')
    with open(classes_file, 'w') as f:
        f.writelines(f'{name}\n' for name in toy_classes(categories))
    written['classes'] = classes_file
    return written
