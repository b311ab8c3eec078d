"""The toy ADE20K dataset: layout, determinism, label values, and mmseg reads it as it is."""

import os
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

from smt_mm.toydata import ade20k_classes, ade20k_paths, generate_ade20k, make_ade20k_split
from smt_mm.toydata.ade20k import BACKGROUND, UNLABELLED, boundary_band

ROOT = REPO_ROOT
CATEGORIES = ('circle', 'rectangle', 'triangle', 'star')


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_ade20k'))
    generate_ade20k(root, num_train=6, num_val=3, height=96, width=128)
    return root


def test_layout(toy_root):
    for split, count in (('training', 6), ('validation', 3)):
        image_dir, ann_dir = ade20k_paths(toy_root, split)
        images = sorted(os.listdir(image_dir))
        labels = sorted(os.listdir(ann_dir))
        assert len(images) == count
        assert [osp.splitext(n)[0] for n in images] == [osp.splitext(n)[0] for n in labels]
        assert all(n.endswith('.jpg') for n in images) and all(n.endswith('.png') for n in labels)
        image = cv2.imread(osp.join(image_dir, images[0]))
        label = cv2.imread(osp.join(ann_dir, labels[0]), cv2.IMREAD_UNCHANGED)
        assert image.shape == (96, 128, 3)
        assert label.shape == (96, 128) and label.dtype == np.uint8


def test_label_values(toy_root):
    _, ann_dir = ade20k_paths(toy_root, 'training')
    seen = set()
    for name in os.listdir(ann_dir):
        label = cv2.imread(osp.join(ann_dir, name), cv2.IMREAD_UNCHANGED)
        values = set(np.unique(label).tolist())
        # unlabelled boundaries, background and at least one shape in every image
        assert {UNLABELLED, BACKGROUND} <= values
        assert values - {UNLABELLED, BACKGROUND}
        assert max(values) <= BACKGROUND + len(CATEGORIES)
        # the unlabelled band is thin: most pixels are labelled
        assert (label == UNLABELLED).mean() < 0.3
        seen |= values
    assert len(seen) >= 4


def test_deterministic_and_prefix_stable(tmp_path):
    first, second = str(tmp_path / 'a'), str(tmp_path / 'b')
    make_ade20k_split(first, 'validation', 2, seed=3, height=64, width=64)
    make_ade20k_split(second, 'validation', 3, seed=3, height=64, width=64)
    for name in ('000000', '000001'):
        for folder, ext in (('images', '.jpg'), ('annotations', '.png')):
            a = open(osp.join(first, folder, 'validation', name + ext), 'rb').read()
            b = open(osp.join(second, folder, 'validation', name + ext), 'rb').read()
            assert a == b
    other = str(tmp_path / 'c')
    make_ade20k_split(other, 'validation', 1, seed=4, height=64, width=64)
    a = cv2.imread(osp.join(first, 'annotations', 'validation', '000000.png'), -1)
    c = cv2.imread(osp.join(other, 'annotations', 'validation', '000000.png'), -1)
    assert not np.array_equal(a, c)


def test_object_sizes_vary(tmp_path):
    make_ade20k_split(str(tmp_path), 'training', 30, num_objects=(1, 1))
    areas = []
    for index in range(30):
        label = cv2.imread(str(tmp_path / 'annotations' / 'training' / f'{index:06d}.png'), -1)
        areas.append(int((label > BACKGROUND).sum()))
    # from a few dozen pixels to a good part of the image
    assert min(areas) < 0.02 * 128 * 128 < 0.2 * 128 * 128 < max(areas)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='unknown split'):
        make_ade20k_split(str(tmp_path), 'train', 1)
    with pytest.raises(ValueError, match='num_images'):
        make_ade20k_split(str(tmp_path), 'training', 0)
    with pytest.raises(ValueError, match='distinct'):
        ade20k_classes(('circle', 'circle'))


def test_boundary_band():
    label = np.zeros((9, 9), np.uint8)
    label[:, 5:] = 2
    band = boundary_band(label, 1)
    assert band[:, 4:6].all() and not band[:, :3].any() and not band[:, 7:].any()
    assert not boundary_band(label, 0).any()


def test_mmseg_reads_it(toy_root):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    init_default_scope('mmseg')
    classes = ade20k_classes(CATEGORIES)
    assert classes == ('background', *CATEGORIES)
    dataset = DATASETS.build(
        dict(
            type='BaseSegDataset',
            data_root=toy_root,
            data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            reduce_zero_label=True,
            metainfo=dict(classes=classes),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')],
        )
    )
    assert len(dataset) == 3
    item = dataset[0]
    gt = item['gt_seg_map']
    assert item['img'].shape[:2] == gt.shape == (96, 128)
    # reduce_zero_label: unlabelled -> 255, background -> 0, shapes -> 1..4
    assert set(np.unique(gt).tolist()) <= {255, *range(len(classes))}
    assert {0, 255} <= set(np.unique(gt).tolist())


def test_cli(tmp_path, load_tool, capsys):
    tool = load_tool('tools/toy_data.py')
    tool.main(['ade20k', str(tmp_path), '--num-train', '2', '--num-val', '1', '--size', '48x64'])
    out = capsys.readouterr().out
    assert 'annotations' in out and "'background'" in out
    label = cv2.imread(str(tmp_path / 'annotations' / 'training' / '000001.png'), -1)
    assert label.shape == (48, 64)


def test_flat_by_default_textured_on_request(tmp_path):
    spreads = {}
    for textured in (False, True):
        root = str(tmp_path / str(textured))
        make_ade20k_split(
            root, 'training', 1, boundary_width=2, height=64, width=64, textured=textured
        )
        image = cv2.imread(osp.join(root, 'images', 'training', '000000.jpg')).astype(float)
        label = cv2.imread(osp.join(root, 'annotations', 'training', '000000.png'), -1)
        spreads[textured] = image[label == BACKGROUND].std(axis=0).max()
    # JPEG noise only on the flat background; a colour field with stripes on the textured one
    assert spreads[False] < 3.0 < 10.0 < spreads[True]
