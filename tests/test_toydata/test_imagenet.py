import filecmp
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT, load_tool
from mmengine.registry import init_default_scope
from mmpretrain.datasets import CustomDataset, ImageNet

from smt_mm.toydata import (
    DEFAULT_CATEGORIES,
    draw_shape_image,
    generate_imagenet,
    imagenet_paths,
    make_imagenet_split,
    toy_classes,
)

ROOT = REPO_ROOT


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toy_imagenet')
    generate_imagenet(root, num_train_per_class=3, num_val_per_class=2, size=32)
    return root


def read_lines(path):
    with open(path) as f:
        return [line.split() for line in f]


def test_layout_and_annotations(toy_root):
    classes = toy_classes()
    assert classes == tuple(sorted(DEFAULT_CATEGORIES))
    assert [line[0] for line in read_lines(osp.join(toy_root, 'meta', 'classes.txt'))] == list(
        classes
    )
    for split, num in (('train', 3), ('val', 2)):
        ann_file, image_dir = imagenet_paths(toy_root, split)
        lines = read_lines(ann_file)
        assert len(lines) == num * len(classes)
        for path, label in lines:
            # the class folder and the label agree, every image exists, 32x32 BGR
            assert path.split('/')[0] == classes[int(label)]
            image = cv2.imread(osp.join(image_dir, path))
            assert image.shape == (32, 32, 3)
        counts = np.bincount([int(label) for _, label in lines])
        assert counts.tolist() == [num] * len(classes)


def test_mmpretrain_reads_it_with_annotations_and_by_folder_scan(toy_root):
    init_default_scope('mmpretrain')
    metainfo = dict(classes=toy_classes())
    with_ann = ImageNet(data_root=toy_root, split='val', metainfo=metainfo)
    assert with_ann.ann_file.endswith(osp.join('meta', 'val.txt'))
    scanned = CustomDataset(data_root=toy_root, data_prefix='val')  # no annotation file
    assert scanned.CLASSES == toy_classes()
    assert len(with_ann) == len(scanned) == 2 * len(toy_classes())

    def samples(dataset):
        return sorted(
            (info['img_path'], int(info['gt_label'])) for info in dataset.load_data_list()
        )

    assert samples(with_ann) == samples(scanned)


def test_deterministic_and_prefix_stable(tmp_path, toy_root):
    make_imagenet_split(str(tmp_path / 'a'), 'val', num_per_class=1, size=32)
    reference = imagenet_paths(toy_root, 'val')[1]
    for name in toy_classes():
        # a smaller split holds the first images of a larger one, bit for bit
        assert filecmp.cmp(
            osp.join(tmp_path, 'a', 'val', name, '000000.png'),
            osp.join(reference, name, '000000.png'),
            shallow=False,
        )
    train = imagenet_paths(toy_root, 'train')[1]
    val = imagenet_paths(toy_root, 'val')[1]
    name = toy_classes()[0]
    assert not filecmp.cmp(osp.join(train, name, '000000.png'), osp.join(val, name, '000000.png'))


def test_each_image_shows_one_large_shape_of_its_class(tmp_path):
    size = 48
    samples = make_imagenet_split(str(tmp_path), 'val', 2, size=size, categories=('star', 'circle'))
    assert [label for _, label in samples] == [0, 0, 1, 1]  # circle, star (sorted)
    for index, (path, label) in enumerate(samples):
        # the documented stream of this image redraws it exactly
        rng = np.random.default_rng([0, 1, label, index % 2])
        expected = draw_shape_image(rng, ('circle', 'star')[label], size)
        image = cv2.imread(osp.join(tmp_path, 'val', path))
        np.testing.assert_array_equal(image, expected)
    # a large shape in a contrasting colour: the pixels far from the background colour (the
    # corner's) cover a large part of the image, more for a circle than for a star
    covered = []
    for path, _ in samples:
        image = cv2.imread(osp.join(tmp_path, 'val', path)).astype(np.float32)
        distance = np.linalg.norm(image - image[:3, :3].reshape(-1, 3).mean(0), axis=-1)
        covered.append((distance > 50).mean())
    assert min(covered) > 0.15
    assert min(covered[:2]) > max(covered[2:])


def test_textured_background_option(tmp_path):
    rng = np.random.default_rng(0)
    flat = draw_shape_image(rng, 'circle', 32)
    textured = draw_shape_image(np.random.default_rng(0), 'circle', 32, textured=True)
    assert flat.shape == textured.shape == (32, 32, 3)
    corner = slice(0, 6)
    # the flat background varies by pixel noise only, the textured one much more
    assert flat[corner, corner].std() < textured[corner, corner].std()


@pytest.mark.parametrize(
    'kwargs,match',
    [
        (dict(split='test'), 'unknown split'),
        (dict(num_per_class=0), 'num_per_class'),
        (dict(size=8), 'size'),
        (dict(categories=('circle', 'circle')), 'distinct'),
        (dict(categories=('blob',)), 'blob'),
    ],
)
def test_bad_arguments_raise(tmp_path, kwargs, match):
    args = dict(split='train', num_per_class=1, size=32) | kwargs
    with pytest.raises(ValueError, match=match):
        make_imagenet_split(str(tmp_path), **args)


def test_cli(tmp_path, capsys):
    cli = load_tool('tools/toy_data.py')
    out = str(tmp_path / 'cli')
    cli.main(
        [
            'imagenet',
            out,
            '--num-train',
            '1',
            '--num-val',
            '1',
            '--size',
            '24',
            '--categories',
            'star',
            'cross',
        ]
    )
    assert osp.join(out, 'meta', 'train.txt') in capsys.readouterr().out
    assert read_lines(osp.join(out, 'meta', 'classes.txt')) == [['cross'], ['star']]
    assert read_lines(osp.join(out, 'meta', 'val.txt')) == [
        ['cross/000000.png', '0'],
        ['star/000000.png', '1'],
    ]
    assert cv2.imread(osp.join(out, 'train', 'star', '000000.png')).shape == (24, 24, 3)
