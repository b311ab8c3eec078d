"""A generated COCO-format instance-segmentation dataset of simple shapes.

The layout is the one of COCO 2017, so mmdet's ``CocoDataset`` and ``CocoMetric`` read it as
they are and a config only changes ``data_root`` and ``metainfo``::

    OUT_DIR/
        annotations/instances_train2017.json
        annotations/instances_val2017.json
        train2017/000000.jpg ...
        val2017/000000.jpg ...

Annotations describe the *visible* part of each object (occlusion included): polygons traced
from the visible mask, its box and its pixel area. The first image of every split is a
background without objects, with no annotation, so that empty images are always exercised.

The defaults (128x128 images, flat one-colour backgrounds, 1-4 objects of 15-60% of the image
side) make the dataset of ``make demo``, which a Mask R-CNN learns from scratch in CPU minutes;
``textured=True`` draws the shapes on textured, striped backgrounds instead (a harder task).
"""

import json
import os
import os.path as osp
from collections.abc import Sequence
from functools import partial

import cv2
import numpy as np

from .shapes import DEFAULT_CATEGORIES, mask_to_polygons, sample_scene

#: The splits written by :func:`generate_coco`, with a fixed seed offset each so that the images
#: of one split do not depend on the number of images of the other.
SPLITS: dict[str, int] = {'train2017': 0, 'val2017': 1}


def coco_paths(out_dir: str, split: str) -> tuple[str, str]:
    """Return where a split's annotation file and image folder are.

    Args:
        out_dir (str): The dataset root.
        split (str): ``'train2017'`` or ``'val2017'``.

    Returns:
        tuple[str, str]: ``(annotation_file, image_dir)``.
    """
    return osp.join(out_dir, 'annotations', f'instances_{split}.json'), osp.join(out_dir, split)


def make_coco_split(
    out_dir: str,
    split: str,
    num_images: int,
    height: int = 128,
    width: int = 128,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    num_objects: tuple[int, int] = (1, 4),
    size_range: tuple[float, float] = (0.15, 0.6),
    textured: bool = False,
) -> dict:
    """Write one split: JPEG images and a COCO instance annotation file.

    Image ``i`` of a split is drawn from ``np.random.default_rng([seed, split_id, i])``, so a
    dataset is the same on every machine and for every ``num_images`` (a larger split starts
    with the images of a smaller one).

    Args:
        out_dir (str): The dataset root (created if needed).
        split (str): A key of :data:`SPLITS`.
        num_images (int): The number of images; the first one has no objects.
        height (int): The image height. Defaults to 128.
        width (int): The image width. Defaults to 128.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories; COCO ids are 1 + their index.
            Defaults to :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.
        num_objects (tuple[int, int]): Inclusive range of objects per image.
            Defaults to (1, 4).
        size_range (tuple[float, float]): Object sizes as fractions of the short image side.
            Defaults to (0.15, 0.6).
        textured (bool): Draw on textured backgrounds (a harder task) instead of flat
            one-colour ones. Defaults to False.

    Returns:
        dict: The COCO annotation dictionary that was written.

    Raises:
        ValueError: If ``split`` is unknown or ``num_images`` < 1.
    """
    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; choose from {list(SPLITS)}')
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    ann_file, image_dir = coco_paths(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(osp.dirname(ann_file), exist_ok=True)

    images: list[dict] = []
    annotations: list[dict] = []
    for index in range(num_images):
        rng = np.random.default_rng([seed, SPLITS[split], index])
        count = (0, 0) if index == 0 else num_objects
        image, instances = sample_scene(
            rng,
            height,
            width,
            num_objects=count,
            categories=categories,
            size_range=size_range,
            textured=textured,
        )
        file_name = f'{index:06d}.jpg'
        cv2.imwrite(osp.join(image_dir, file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        image_id = index + 1
        images.append(dict(id=image_id, file_name=file_name, height=height, width=width))
        for inst in instances:
            polygons = mask_to_polygons(inst.mask)
            if not polygons:
                continue
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=inst.label + 1,
                    segmentation=[[round(float(v), 1) for v in p.ravel()] for p in polygons],
                    area=float(inst.area),
                    bbox=[float(v) for v in inst.bbox],
                    iscrowd=0,
                )
            )
    coco = dict(
        info=dict(description=f'smt_mm toy shapes ({split}, seed {seed})', version='1.0'),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(categories)
        ],
    )
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return coco


def generate_coco(
    out_dir: str,
    num_train: int = 200,
    num_val: int = 50,
    height: int = 128,
    width: int = 128,
    seed: int = 0,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    num_objects: tuple[int, int] = (1, 4),
    size_range: tuple[float, float] = (0.15, 0.6),
    textured: bool = False,
) -> dict[str, str]:
    """Write the train and val splits of the toy COCO dataset.

    Args:
        out_dir (str): The dataset root (created if needed).
        num_train (int): Training images. Defaults to 200.
        num_val (int): Validation images. Defaults to 50.
        height (int): The image height. Defaults to 128.
        width (int): The image width. Defaults to 128.
        seed (int): The dataset seed. Defaults to 0.
        categories (Sequence[str]): Shape categories. Defaults to
            :data:`~smt_mm.toydata.shapes.DEFAULT_CATEGORIES`.
        num_objects (tuple[int, int]): Inclusive range of objects per image (the first image
            of each split has none). Defaults to (1, 4).
        size_range (tuple[float, float]): Object sizes as fractions of the short image side.
            Defaults to (0.15, 0.6).
        textured (bool): Textured instead of flat backgrounds. Defaults to False.

    Returns:
        dict[str, str]: The written annotation files, keyed by split.
    """
    write = partial(
        make_coco_split,
        height=height,
        width=width,
        seed=seed,
        categories=categories,
        num_objects=num_objects,
        size_range=size_range,
        textured=textured,
    )
    written = {}
    for split, num_images in (('train2017', num_train), ('val2017', num_val)):
        write(out_dir, split, num_images)
        written[split] = coco_paths(out_dir, split)[0]
    return written
