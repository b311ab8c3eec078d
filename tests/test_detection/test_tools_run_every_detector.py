"""Every detector config of the paper trains one iteration with tools/train.py and is evaluated
with tools/test.py, on generated toy COCO data.

Each shipped config is adapted to the toy data the way a user points a config at a dataset of
their own: the data root and its 4 classes, no ImageNet file (there is none here), 1/8 of every
image scale and fewer RoIs so that a CPU step takes seconds, one epoch of one batch. Score
thresholds are 0 so that the untrained detector's predictions reach the COCO evaluation.
Everything else (backbone, neck, heads, pipelines, optimizer, schedule types) is the shipped
config's. No validation during training and no optimizer state in the checkpoint: tools/test.py
evaluates, and AdamW's state would triple the file of the 100M-parameter detectors.
"""

import glob
import json
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, load_tool
from mmengine.config import Config

from smt_mm.demo import NO_VALIDATION, toy_data_options
from smt_mm.toydata import DEFAULT_CATEGORIES, generate_coco

pytestmark = pytest.mark.slow

FAMILIES = ('cascade_mask_rcnn', 'retinanet', 'atss', 'sparse_rcnn', 'dino_4scale')
CONFIGS = sorted(
    path
    for family in FAMILIES
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', 'detection', f'{family}_*.py'))
)
SCALE_KEYS = ('scale', 'scales', 'crop_size')
SHRINK = 8
# RPN proposals kept and RoIs sampled per image (for the cascade's three 4-conv heads, most of
# the CPU time otherwise) as in test_detectors.py; Sparse R-CNN keeps its 300 proposals.
PROPOSALS = 100
ROIS_PER_IMAGE = 64


def _shrink(value):
    """A scale, a list of scales or a crop size divided by :data:`SHRINK`."""
    if isinstance(value, int):
        return max(value // SHRINK, 1)
    return type(value)(_shrink(v) for v in value)


def _adapt(node, num_classes: int):
    """Shrink the image scales and the RoI counts, set the class count, drop score thresholds."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SCALE_KEYS:
                node[key] = _shrink(value)
            elif key == 'num_classes':
                node[key] = num_classes
            elif key == 'score_thr':
                node[key] = 0.0
            elif key in ('rpn_proposal', 'rpn') and 'max_per_img' in (value or {}):
                value['max_per_img'] = PROPOSALS
            elif key == 'sampler' and 'num' in (value or {}):
                value['num'] = ROIS_PER_IMAGE
            else:
                _adapt(value, num_classes)
    elif isinstance(node, list | tuple):
        for value in node:
            _adapt(value, num_classes)


def toy_config(config: str, data_root: str, out_dir: str) -> str:
    """Write the shipped ``config`` adapted to the toy data; return the new file."""
    cfg = Config.fromfile(config)
    classes = DEFAULT_CATEGORIES
    cfg.merge_from_dict(toy_data_options(data_root, 'annotations/instances_val2017.json'))
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.metainfo = dict(classes=classes)
    _adapt(cfg.model, len(classes))
    _adapt(cfg.train_dataloader.dataset.pipeline, len(classes))
    _adapt(cfg.test_dataloader.dataset.pipeline, len(classes))
    cfg.val_dataloader = cfg.test_dataloader
    cfg.model.backbone.init_cfg = None
    if 'num_queries' in cfg.model:  # DINO selects its queries among the feature-map positions
        cfg.model.num_queries = 100
    cfg.train_cfg.max_epochs = 1
    cfg.merge_from_dict(NO_VALIDATION)  # tools/test.py evaluates
    cfg.default_hooks.checkpoint.save_optimizer = False  # AdamW's state: 2x the weights
    cfg.default_hooks.logger.interval = 1
    cfg.experiment_name = osp.splitext(osp.basename(config))[0]
    path = osp.join(out_dir, osp.basename(config))
    cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def toy_coco(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_coco'))
    # COCO's aspect ratio, so that the shrunk test scale (166x100) keeps its shape
    generate_coco(root, num_train=2, num_val=2, height=96, width=160, seed=3)
    return root


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_one_training_iteration_then_test(config, toy_coco, tmp_path):
    assert len(CONFIGS) == 18
    path = toy_config(config, toy_coco, str(tmp_path))
    work_dir = str(tmp_path / 'work')
    load_tool('tools/train.py').main([path, '--work-dir', work_dir])
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False)['meta']
    assert meta['epoch'] == 1 and meta['iter'] == 1

    test_dir = str(tmp_path / 'test')
    load_tool('tools/test.py').main([path, checkpoint, '--work-dir', test_dir])
    (record,) = glob.glob(osp.join(test_dir, 'eval_*.json'))
    with open(record) as f:
        metrics = json.load(f)['metrics']
    keys = ['coco/bbox_mAP'] + (['coco/segm_mAP'] if 'mask' in config else [])
    for key in keys:
        assert 0.0 <= metrics[key] <= 1.0, metrics
