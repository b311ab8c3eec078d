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
from functools import partial
from typing import Any

from .shapes import DEFAULT_CATEGORIES, mask_to_polygons
from .splits import check_split, generate_splits, split_scenes, write_jpeg

#: The splits written by :func:`generate_coco`, with a fixed seed offset each so that the images
#: of one split do not depend on the number of images of the other.
SPLITS: dict[str, int] = {'train2017': 0, 'val2017': 1}


def coco_paths(out_dir: str, split: str) -> tuple[str, str]:
    """The annotation file and the image folder of a split (``'train2017'`` or ``'val2017'``)."""
    return osp.join(out_dir, 'annotations', f'instances_{split}.json'), osp.join(out_dir, split)


#: The scenes of the toy COCO dataset: keyword arguments of
#: :func:`~smt_mm.toydata.shapes.sample_scene`, each overridable in :func:`make_coco_split`
#: (``textured=True`` draws textured backgrounds, a harder task).
SCENE: dict[str, Any] = dict(
    height=128, width=128, categories=DEFAULT_CATEGORIES, num_objects=(1, 4),
    size_range=(0.15, 0.6), textured=False,
)  # fmt: skip


def make_coco_split(out_dir: str, split: str, num_images: int, seed: int = 0, **scene: Any) -> dict:
    """Write one split: JPEG images and a COCO instance annotation file.

    Image ``i`` of a split is drawn as described in :func:`~smt_mm.toydata.splits.split_scenes`;
    the first one has no objects.

    Args:
        out_dir (str): The dataset root (created if needed).
        split (str): A key of :data:`SPLITS`.
        num_images (int): The number of images.
        seed (int): The dataset seed. Defaults to 0.
        **scene: Changes to :data:`SCENE` (image ``height`` and ``width``, ``categories``
            (COCO ids are 1 + their index), ``num_objects``, ``size_range``, ``textured``).

    Returns:
        dict: The COCO annotation dictionary that was written.

    Raises:
        ValueError: If ``split`` is unknown or ``num_images`` < 1.
    """
    scene = SCENE | scene
    check_split(SPLITS, split, num_images, 'num_images')
    ann_file, image_dir = coco_paths(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(osp.dirname(ann_file), exist_ok=True)

    images: list[dict] = []
    annotations: list[dict] = []
    scenes = split_scenes(seed, SPLITS[split], num_images, empty_first=True, **scene)
    for image_id, (name, image, instances) in enumerate(scenes, start=1):
        write_jpeg(osp.join(image_dir, name + '.jpg'), image)
        height, width = image.shape[:2]
        images.append(dict(id=image_id, file_name=name + '.jpg', height=height, width=width))
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
            dict(id=i + 1, name=name, supercategory='shape')
            for i, name in enumerate(scene['categories'])
        ],
    )
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return coco


#: ``generate_coco(out_dir, num_train=200, num_val=50, **options)`` writes the train2017 and
#: val2017 splits with the keyword arguments of :func:`make_coco_split` and returns their
#: annotation files, keyed by split (see :func:`~smt_mm.toydata.splits.generate_splits`).
generate_coco = partial(
    generate_splits, make_coco_split, tuple(SPLITS), lambda root, split: coco_paths(root, split)[0]
)
