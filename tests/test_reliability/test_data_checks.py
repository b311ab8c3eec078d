"""Data that used to be dropped or misread without a word (issue 26, items 2 and 4).

Each test corrupts a tiny generated toy dataset (2-3 images) and calls the library in-process:
dropped COCO annotations are counted per reason and refused in strict mode, a truncated
annotation file and an empty image name the file, missing segmentation label maps and a head
whose classes differ from the dataset's fail before training.
"""

import copy
import json
import logging
import os
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.logging import MMLogger
from mmengine.model import BaseTTAModel
from mmengine.registry import DATASETS, TRANSFORMS, init_default_scope

from smt_mm.config import check_cfg_options, load_config
from smt_mm.datasets import (
    CheckedLoadImageFromFile,
    ImageReadError,
    TrainDataCheckHook,
    check_label_files,
    check_num_classes,
    checks,
)
from smt_mm.engine import RunError
from smt_mm.toydata import generate_ade20k, generate_coco

DET_TOY = osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
CLASSES = ('circle', 'rectangle', 'triangle', 'star')
ANN = 'annotations/instances_train2017.json'


@pytest.fixture(scope='module', name='coco_root')
def fixture_coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    generate_coco(str(root), num_train=2, num_val=1)
    return root


def _write(root, name, coco):
    with open(root / 'annotations' / name, 'w') as f:
        json.dump(coco, f)
    return f'annotations/{name}'


def _build(root, ann_file, classes=CLASSES, **kwargs):
    init_default_scope('mmdet')
    return DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=str(root) + '/',
            ann_file=ann_file,
            data_prefix=dict(img='train2017/'),
            metainfo=dict(classes=classes),
            filter_cfg=dict(filter_empty_gt=False, min_size=0),
            pipeline=[],
            **kwargs,
        )
    )


@pytest.fixture(scope='module', name='bad_coco')
def fixture_bad_coco(coco_root):
    """The toy file with one annotation of each invalid kind, a crowd and an ignored one."""
    with open(coco_root / ANN) as f:
        coco = json.load(f)
    anns = coco['annotations']
    assert len(anns) >= 4
    first = anns[0]
    anns[0] = {**first, 'bbox': [first['bbox'][0], first['bbox'][1], -5.0, 10.0]}
    anns[1] = {**anns[1], 'bbox': [500.0, 500.0, 10.0, 10.0]}
    anns[2] = {**anns[2], 'category_id': 99}
    anns[3] = {**anns[3], 'iscrowd': 1}
    anns.append({**copy.deepcopy(first), 'id': 1000, 'image_id': 77})  # no such image
    anns.append({**copy.deepcopy(first), 'id': 1001, 'ignore': True})
    return coco, _write(coco_root, 'bad.json', coco)


def test_invalid_annotations_are_refused_naming_each_reason(coco_root, bad_coco):
    _, ann_file = bad_coco
    with pytest.raises(RunError) as err:
        _build(coco_root, ann_file)
    message = str(err.value)
    assert f'{osp.join(str(coco_root), ann_file)} holds 4 invalid annotations' in message
    ids = [a['id'] for a in bad_coco[0]['annotations']]
    assert f'1 box under 1 px wide or high, or of no area (annotation ids [{ids[0]}])' in message
    assert f'1 box outside the image (annotation ids [{ids[1]}])' in message
    assert f"1 category_id not among the file's categories (annotation ids [{ids[2]}])" in message
    assert "1 image_id not among the file's images" in message
    assert 'strict_annotations=False' in message
    assert 'ignore' not in message and 'crowd' not in message  # choices, not errors


def test_non_strict_drops_them_as_mmdet_does_and_reports_the_counts(coco_root, bad_coco):
    coco, ann_file = bad_coco
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        dataset = _build(coco_root, ann_file, strict_annotations=False)
    finally:
        logger.removeHandler(handler)
    report = dataset.annotation_report
    total = len(coco['annotations'])
    assert report.total == total
    assert dict(report.dropped) == {
        'degenerate_box': 1,
        'outside_image': 1,
        'unknown_category': 1,
        'unknown_image': 1,
        'ignore': 1,
    }
    instances = sum(len(dataset.get_data_info(i)['instances']) for i in range(len(dataset)))
    assert report.kept == instances == total - 5
    assert report.crowd == 1
    warning = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warning == [report.summary()]
    assert (
        f'{total} read, {instances} kept (1 crowd regions, trained as ignore), 5 dropped'
        in (warning[0])
    )


def test_classes_left_out_on_purpose_are_counted_but_not_refused(coco_root):
    dataset = _build(coco_root, ANN, classes=CLASSES[:2])
    report = dataset.annotation_report
    assert report.invalid == {}
    assert report.dropped['class_not_selected'] > 0
    assert report.kept + report.dropped['class_not_selected'] == report.total


def test_truncated_annotation_file_names_the_file(coco_root):
    text = (coco_root / ANN).read_text()
    (coco_root / 'annotations' / 'truncated.json').write_text(text[: len(text) // 2])
    with pytest.raises(RunError, match=r'annotation file .*truncated.json is not valid JSON'):
        _build(coco_root, 'annotations/truncated.json')


def test_toy_configs_are_strict_and_accept_the_opt_out():
    cfg = load_config(DET_TOY)
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.type == 'CheckedCocoDataset' and 'strict_annotations' not in dataset
    check_cfg_options(cfg, {'train_dataloader.dataset.strict_annotations': False})


def test_empty_image_names_the_file(coco_root, tmp_path):
    init_default_scope('mmdet')
    loader = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    assert isinstance(loader, CheckedLoadImageFromFile)
    image = coco_root / 'train2017' / os.listdir(coco_root / 'train2017')[0]
    assert loader.transform(dict(img_path=str(image)))['img'].ndim == 3
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ImageReadError, match=f'cannot read the image {empty}: it is empty'):
        loader.transform(dict(img_path=str(empty)))
    garbage = tmp_path / 'garbage.jpg'
    garbage.write_bytes(b'not an image')
    with pytest.raises(ImageReadError, match=f'{garbage}: it is damaged or not an image'):
        loader.transform(dict(img_path=str(garbage)))


class _Head(torch.nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes


class _Model(torch.nn.Module):
    def test_step(self, data):
        return data


def _detector(num_classes, stages=1):
    model = _Model()
    model.rpn_head = _Head(1)  # the RPN's one "object" class is not a dataset class
    model.roi_head = torch.nn.Module()
    heads = [_Head(num_classes) for _ in range(stages)]
    model.roi_head.bbox_head = heads[0] if stages == 1 else torch.nn.ModuleList(heads)
    model.roi_head.mask_head = _Head(num_classes)
    return model


class _Dataset:
    metainfo = dict(classes=CLASSES)


def test_head_classes_must_match_the_dataset():
    check_num_classes(_detector(4), _Dataset())
    with pytest.raises(RunError) as err:
        check_num_classes(_detector(5), _Dataset())
    message = str(err.value)
    assert 'train_dataloader.dataset has 4 classes' in message
    assert 'model.roi_head.bbox_head.num_classes=5, model.roi_head.mask_head.num_classes=5' in (
        message
    )
    assert '--cfg-options model.roi_head.bbox_head.num_classes=4 model.roi_head.mask_head' in (
        message
    )
    with pytest.raises(RunError, match=r'model.roi_head.bbox_head\[1\].num_classes=3'):
        check_num_classes(_detector(3, stages=2), _Dataset())


@pytest.mark.slow
def test_train_tool_refuses_a_head_with_other_classes_before_training(
    coco_root, tmp_path, load_tool
):
    """The one real run of this file: tools/train.py builds the toy detector and stops."""
    options = [
        f'{split}_dataloader.dataset.data_root={coco_root}/' for split in ('train', 'val', 'test')
    ]
    options += [
        f'{split}_evaluator.ann_file={coco_root}/annotations/instances_val2017.json'
        for split in ('val', 'test')
    ]
    options += [
        'model.roi_head.bbox_head.num_classes=5',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
    ]
    train = load_tool('tools/train.py')
    with pytest.raises(SystemExit) as exc:
        train.main([DET_TOY, '--work-dir', str(tmp_path), '--cfg-options', *options])
    message = str(exc.value.code)
    assert message.startswith('error: the model and the data disagree on the number of classes')
    assert 'model.roi_head.bbox_head.num_classes=5' in message
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.pth')]


@pytest.fixture(scope='module', name='ade_root')
def fixture_ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_ade')
    generate_ade20k(str(root), num_train=3, num_val=1)
    return root


def _seg_dataset(root):
    init_default_scope('mmseg')
    return DATASETS.build(
        dict(
            type='BaseSegDataset',
            data_root=str(root),
            data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            pipeline=[],
        )
    )


def test_missing_and_stray_label_maps_are_reported(ade_root, monkeypatch):
    labels = ade_root / 'annotations' / 'training'
    check_label_files(_seg_dataset(ade_root))
    logged = []
    monkeypatch.setattr(checks, 'print_log', lambda message, **_: logged.append(message))
    (labels / 'stray.png').write_bytes(b'')
    check_label_files(_seg_dataset(ade_root))
    assert len(logged) == 1 and logged[0].startswith('1 label maps have no image')
    assert str(labels / 'stray.png') in logged[0]
    first = sorted(p for p in os.listdir(labels) if p != 'stray.png')[0]
    os.remove(labels / first)
    with pytest.raises(RunError, match=f'1 of the 3 images .* no label map.*{first}'):
        check_label_files(_seg_dataset(ade_root))


class _TTA(BaseTTAModel):
    def merge_preds(self, data_samples_list):
        return data_samples_list


def test_hook_checks_classes_before_training():
    runner = type('Runner', (), {})()
    runner.model = _TTA(module=_detector(5))  # found inside wrappers
    runner.train_dataloader = type('Loader', (), {'dataset': _Dataset()})()
    with pytest.raises(RunError, match='disagree on the number of classes'):
        TrainDataCheckHook().before_train(runner)
