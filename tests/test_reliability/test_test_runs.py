"""tools/test.py must not report success on a wrong result (issue 18, defects 1 and 5).

Detection and segmentation checkpoints that do not fit the config, an empty test set and a test
set without annotations each used to exit 0 and write an eval JSON. The models are built from the
toy configs without training (their weights do not matter here) and tested on 2 toy images.
"""

import glob
import importlib
import json
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.registry import init_default_scope

from smt_mm.config import load_config
from smt_mm.datasets import TrainDataCheckHook
from smt_mm.demo import toy_data_options
from smt_mm.toydata import generate_coco

pytestmark = pytest.mark.slow

DET_TOY = osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
SEG_TOY = osp.join(REPO_ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py')
ANN = 'annotations/instances_val2017.json'
LOADERS = [
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'model.test_cfg.rpn.max_per_img=50',
    'model.test_cfg.rcnn.max_per_img=10',
]


def _save_model(config, path, options=None):
    """Build the config's model (random weights) and save it as mmengine does."""
    cfg = load_config(config, options)
    init_default_scope(cfg.default_scope)
    model = importlib.import_module(f'{cfg.default_scope}.registry').MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.fixture(scope='module', name='toy')
def fixture_toy(tmp_path_factory):
    """Toy COCO data (2 val images), variants without annotations / images, and checkpoints."""
    root = tmp_path_factory.mktemp('toy_coco')
    generate_coco(str(root), num_train=1, num_val=2)
    with open(root / ANN) as f:
        coco = json.load(f)
    for name, change in (('no_annotations', dict(annotations=[])), ('no_images', dict(images=[]))):
        with open(root / f'annotations/{name}.json', 'w') as f:
            json.dump({**coco, **change, 'annotations': []}, f)
    return dict(
        root=str(root),
        det_t=_save_model(DET_TOY, root / 'det_t.pth'),
        det_s=_save_model(DET_TOY, root / 'det_s.pth', {'model.backbone.arch': 'small'}),
        seg_t=_save_model(SEG_TOY, root / 'seg_t.pth'),
    )


def _options(toy, ann=ANN):
    data = toy_data_options(toy['root'], ann)
    data['test_dataloader.dataset.ann_file'] = ann
    return [*(f'{k}={v}' for k, v in data.items()), *LOADERS]


def _test(load_tool, toy, checkpoint, work_dir, *extra, ann=ANN):
    """Run tools/test.py in this process; return (exit message or None, eval JSON files)."""
    argv = [DET_TOY, toy[checkpoint], '--work-dir', str(work_dir), *extra]
    try:
        load_tool('tools/test.py').main([*argv, '--cfg-options', *_options(toy, ann)])
        message = None
    except SystemExit as exc:
        message = str(exc.code)
    return message, glob.glob(osp.join(work_dir, 'eval_*.json'))


@pytest.mark.parametrize('checkpoint', ['det_s', 'seg_t'])
def test_a_checkpoint_of_another_model_is_refused(load_tool, toy, tmp_path, checkpoint):
    message, written = _test(load_tool, toy, checkpoint, tmp_path)
    assert message.startswith('error: The checkpoint does not fit the model')
    assert 'unexpected keys' in message and '--non-strict' in message
    if checkpoint == 'seg_t':
        assert 'decode_head.' in message and 'rpn_head.' in message
    assert not written


def test_non_strict_loads_on_purpose(load_tool, toy, tmp_path):
    message, written = _test(load_tool, toy, 'det_s', tmp_path, '--non-strict')
    assert message is None and len(written) == 1


def test_an_empty_test_set_fails(load_tool, toy, tmp_path):
    message, written = _test(load_tool, toy, 'det_t', tmp_path, ann='annotations/no_images.json')
    assert message.startswith('error: the test set is empty')
    assert 'no_images.json' in message and not written


def test_a_test_set_without_annotations_fails(load_tool, toy, tmp_path):
    ann = 'annotations/no_annotations.json'
    message, written = _test(load_tool, toy, 'det_t', tmp_path, ann=ann)
    assert message.startswith('error: the evaluation measured nothing')
    assert '-1' in message and ann in message and not written


def test_training_without_annotations_warns(toy, monkeypatch):
    from types import SimpleNamespace

    from mmdet.datasets import CocoDataset

    import smt_mm.datasets.checks as hooks

    logged = []
    monkeypatch.setattr(hooks, 'print_log', lambda message, **_: logged.append(message))
    dataset = CocoDataset(
        data_root=toy['root'],
        ann_file='annotations/no_annotations.json',
        data_prefix=dict(img='val2017/'),
        metainfo=dict(classes=('circle', 'rectangle', 'triangle', 'star')),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=[],
    )
    model = torch.nn.Module()  # no head: the class check has nothing to compare
    runner = SimpleNamespace(model=model, train_dataloader=SimpleNamespace(dataset=dataset))
    TrainDataCheckHook().before_train(runner)
    assert len(logged) == 1 and 'has 2 images and not one annotated object' in logged[0]
    dataset.ann_file = osp.join(toy['root'], ANN)
    logged.clear()
    TrainDataCheckHook().before_train(
        SimpleNamespace(
            model=model,
            train_dataloader=SimpleNamespace(
                dataset=CocoDataset(
                    data_root=toy['root'],
                    ann_file=ANN,
                    data_prefix=dict(img='val2017/'),
                    metainfo=dataset.metainfo,
                    pipeline=[],
                )
            ),
        )  # fmt: skip
    )
    assert not logged
