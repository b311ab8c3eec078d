import json
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

from smt_mm.toydata import (
    DEFAULT_CATEGORIES,
    SHAPE_CATEGORIES,
    generate_coco,
    make_coco_split,
    mask_to_polygons,
    polygon_mask,
    render_label_map,
    sample_scene,
    shape_polygon,
)

ROOT = REPO_ROOT


@pytest.mark.parametrize('category', SHAPE_CATEGORIES)
def test_shape_polygon_fills_its_size(category):
    rng = np.random.default_rng(0)
    polygon = shape_polygon(rng, category, center=(50, 40), size=60)
    assert polygon.dtype == np.float32 and polygon.shape[1] == 2
    # every vertex lies on or inside the bounding circle of diameter `size`
    radii = np.linalg.norm(polygon - np.array([50, 40]), axis=1)
    assert radii.max() <= 30 + 1e-3
    mask = polygon_mask(polygon, 80, 100)
    ys, xs = np.nonzero(mask)
    assert 30 <= xs.max() - xs.min() + 1 <= 61
    assert mask[40, 50]  # the centre is inside every shape


def test_unknown_category_lists_choices():
    with pytest.raises(ValueError, match='circle'):
        shape_polygon(np.random.default_rng(0), 'blob', (10, 10), 5)
    with pytest.raises(ValueError, match='unknown shape categories'):
        sample_scene(np.random.default_rng(0), 64, 64, categories=('circle', 'blob'))


def test_sample_scene_is_deterministic_and_consistent():
    image1, instances1 = sample_scene(np.random.default_rng(7), 96, 128, num_objects=5)
    image2, instances2 = sample_scene(np.random.default_rng(7), 96, 128, num_objects=5)
    assert image1.shape == (96, 128, 3) and image1.dtype == np.uint8
    np.testing.assert_array_equal(image1, image2)
    assert [i.category for i in instances1] == [i.category for i in instances2]
    assert len(instances1) >= 1
    union = np.zeros((96, 128), bool)
    for inst in instances1:
        assert inst.category in DEFAULT_CATEGORIES
        assert DEFAULT_CATEGORIES[inst.label] == inst.category
        assert not (union & inst.mask).any()  # visible masks never overlap
        union |= inst.mask
        full = polygon_mask(inst.polygon, 96, 128)
        assert (inst.mask <= full).all()
        assert inst.area >= 0.6 * full.sum() - 1  # occlusion never hides more than 40%
        x, y, w, h = inst.bbox
        assert inst.mask[y : y + h, x : x + w].sum() == inst.area


def test_scene_occludes_in_z_order():
    # With many large objects some occlusion is unavoidable: the later object wins.
    rng = np.random.default_rng(3)
    _, instances = sample_scene(rng, 64, 64, num_objects=6, size_range=(0.5, 0.7), min_visible=0.3)
    occluded = [inst for inst in instances if inst.area < polygon_mask(inst.polygon, 64, 64).sum()]
    assert occluded, 'expected overlapping objects'
    assert instances[-1].area == polygon_mask(instances[-1].polygon, 64, 64).sum()


def test_empty_scene_and_label_map():
    image, instances = sample_scene(np.random.default_rng(0), 32, 48, num_objects=0)
    assert image.shape == (32, 48, 3) and instances == []
    _, instances = sample_scene(np.random.default_rng(1), 64, 64, num_objects=3)
    label_map = render_label_map(instances, 64, 64, background=0, offset=1)
    for inst in instances:
        assert (label_map[inst.mask] == inst.label + 1).all()
    covered = np.any([inst.mask for inst in instances], axis=0)
    assert (label_map[~covered] == 0).all()


def test_mask_to_polygons_round_trip():
    mask = np.zeros((40, 40), bool)
    mask[5:15, 5:20] = True
    mask[25:35, 25:35] = True
    polygons = mask_to_polygons(mask)
    assert len(polygons) == 2
    redrawn = np.zeros_like(mask)
    for polygon in polygons:
        redrawn |= polygon_mask(polygon + 0.5, 40, 40) | polygon_mask(polygon, 40, 40)
    assert (redrawn == mask).mean() > 0.95


def test_coco_split_reads_with_pycocotools(tmp_path):
    from pycocotools.coco import COCO

    coco_dict = make_coco_split(str(tmp_path), 'val2017', 4, height=64, width=80, seed=1)
    coco = COCO(str(tmp_path / 'annotations' / 'instances_val2017.json'))
    assert sorted(coco.getImgIds()) == [1, 2, 3, 4]
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(DEFAULT_CATEGORIES)
    assert coco.getAnnIds(imgIds=[1]) == []  # the first image has no objects
    assert len(coco_dict['annotations']) >= 3
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= 80 and y + h <= 64
        mask = coco.annToMask(ann)
        assert mask.shape == (64, 80)
        # the polygons rasterise back to (almost) the visible area that was annotated
        assert abs(int(mask.sum()) - ann['area']) <= 0.25 * ann['area'] + 8
    image = cv2.imread(str(tmp_path / 'val2017' / '000001.jpg'))
    assert image.shape == (64, 80, 3)


def test_splits_are_independent_and_reproducible(tmp_path):
    generate_coco(str(tmp_path / 'a'), num_train=3, num_val=2, height=48, width=48, seed=5)
    generate_coco(str(tmp_path / 'b'), num_train=5, num_val=2, height=48, width=48, seed=5)
    for split in ('train2017', 'val2017'):
        with open(tmp_path / 'a' / 'annotations' / f'instances_{split}.json') as f:
            a = json.load(f)
        with open(tmp_path / 'b' / 'annotations' / f'instances_{split}.json') as f:
            b = json.load(f)
        n = len(a['images'])
        assert a['images'] == b['images'][:n]
        image_ids = {img['id'] for img in a['images']}
        assert a['annotations'] == [x for x in b['annotations'] if x['image_id'] in image_ids]
    with pytest.raises(ValueError, match='split'):
        make_coco_split(str(tmp_path), 'test2017', 1)


def test_mmdet_coco_dataset_reads_it(tmp_path):
    from mmdet.datasets import CocoDataset
    from mmengine.registry import DefaultScope

    generate_coco(str(tmp_path), num_train=3, num_val=2, height=64, width=64)
    # as an mmdet config builds it (default_scope='mmdet'), whatever scope an earlier test left
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = CocoDataset(
            data_root=str(tmp_path),
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            metainfo=dict(classes=DEFAULT_CATEGORIES),
            filter_cfg=dict(filter_empty_gt=False),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                dict(type='PackDetInputs'),
            ],
        )
    assert len(dataset) == 3
    empty = dataset[0]['data_samples']
    assert len(empty.gt_instances) == 0
    sample = dataset[1]['data_samples']
    assert len(sample.gt_instances) >= 1
    assert sample.gt_instances.masks.masks.shape[1:] == (64, 64)


def test_cli(tmp_path, load_tool, capsys):
    out = tmp_path / 'toy'
    tool = load_tool('tools/toy_data.py')
    args = ['coco', str(out), '--num-train', '2', '--num-val', '2', '--seed', '3']
    tool.main([*args, '--size', '48x64'])
    assert 'instances_train2017.json' in capsys.readouterr().out
    image = cv2.imread(str(out / 'train2017' / '000000.jpg'))
    assert image.shape == (48, 64, 3)
    with pytest.raises(SystemExit) as exit_info:
        tool.main([*args, '--size', '8'])
    assert exit_info.value.code != 0 and 'at least 32' in capsys.readouterr().err


def test_sample_scene_flat_background():
    image, instances = sample_scene(np.random.default_rng(3), 64, 80, num_objects=2, textured=False)
    covered = np.zeros((64, 80), bool)
    for inst in instances:
        covered |= inst.mask
    background = image[~covered]
    # one colour everywhere outside the objects, and the objects differ from it
    assert (background == background[0]).all()
    assert not (image[covered] == background[0]).all(axis=-1).all()


def _background_spread(root, split='val2017'):
    """Pixel value range of a split's first image, which has no objects: background only."""
    image = cv2.imread(osp.join(str(root), split, '000000.jpg')).astype(int)
    return int((image.max(axis=(0, 1)) - image.min(axis=(0, 1))).max())


def test_flat_and_textured_backgrounds(tmp_path):
    generate_coco(str(tmp_path / 'flat'), num_train=2, num_val=2, height=64, width=64)
    generate_coco(str(tmp_path / 'tex'), num_train=2, num_val=2, height=64, width=64, textured=True)
    assert _background_spread(tmp_path / 'flat') <= 2  # one colour, up to JPEG rounding
    assert _background_spread(tmp_path / 'tex') > 30
    with open(tmp_path / 'flat' / 'annotations' / 'instances_train2017.json') as f:
        flat = json.load(f)
    with open(tmp_path / 'tex' / 'annotations' / 'instances_train2017.json') as f:
        textured = json.load(f)
    assert flat['images'] == textured['images']
    assert flat['annotations'] and textured['annotations']


def test_cli_textured(tmp_path, load_tool):
    tool = load_tool('tools/toy_data.py')
    args = ['coco', '--num-train', '1', '--num-val', '1', '--size', '64']
    tool.main([*args, str(tmp_path / 'flat')])
    tool.main([*args, str(tmp_path / 'tex'), '--textured'])
    assert _background_spread(tmp_path / 'flat') <= 2
    assert _background_spread(tmp_path / 'tex') > 30


def test_sample_scene_class_colors():
    from smt_mm.toydata.shapes import CATEGORY_HUES

    image, instances = sample_scene(
        np.random.default_rng(5), 96, 96, num_objects=4, textured=False, class_colors=True
    )
    covered = np.zeros((96, 96), bool)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(int)
    for inst in instances:
        covered |= inst.mask
        hue = np.median(hsv[inst.mask][:, 0])
        distance = abs(hue - CATEGORY_HUES[inst.category])
        assert min(distance, 180 - distance) <= 6, inst.category
    # a grey background: no colour cue outside the objects
    assert (hsv[~covered][:, 1] <= 8).all()
