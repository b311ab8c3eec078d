"""Every detector of the paper trains one iteration with tools/train.py and is evaluated with
tools/test.py, on generated toy COCO data.

One config per detector family runs (SMT-S, the first schedule); each of the other 13 paper
configs (SMT-B, the Swin-T twins, DINO's 36 epochs) is asserted here to be that config with
another backbone (built by tests/test_configs) or another schedule only, so the run covers it.

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

#: The family's config that runs, per detector family of the paper (its first schedule).
RUNS = {
    'cascade_mask_rcnn': 'cascade_mask_rcnn_smt_s_3x.py',
    'retinanet': 'retinanet_smt_s_3x.py',
    'atss': 'atss_smt_s_3x.py',
    'sparse_rcnn': 'sparse_rcnn_smt_s_3x.py',
    'dino_4scale': 'dino_4scale_smt_s_12e.py',
}
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'detection')
CONFIGS = sorted(osp.join(CONFIG_DIR, name) for name in RUNS.values())
#: Every paper config of these families: the 5 that run and their 13 twins.
FAMILY_CONFIGS = sorted(
    path for family in RUNS for path in glob.glob(osp.join(CONFIG_DIR, f'{family}_*.py'))
)
#: Top-level keys a twin may change: the backbone and what follows from it (Swin's FPN inputs
#: and parameter-wise decay), or the schedule (DINO's 36 epochs).
BACKBONE_KEYS = {'model', 'optim_wrapper', 'swin_t_backbone', 'swin_t_in_channels',
                 'swin_paramwise_cfg', 'smt_b_backbone'}  # fmt: skip
SCHEDULE_KEYS = {'train_cfg', 'param_scheduler', 'dino_36e_train_cfg', 'dino_36e_param_scheduler',
                 'dino_36e_max_epochs'}  # fmt: skip
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


def _without(cfg: dict, model_keys: set[str]) -> dict:
    """``cfg`` without the given keys of its ``model``."""
    return dict(cfg, model={k: v for k, v in cfg['model'].items() if k not in model_keys})


@pytest.mark.parametrize('twin', [p for p in FAMILY_CONFIGS if p not in CONFIGS], ids=osp.basename)
def test_every_other_config_is_a_run_config_with_another_backbone_or_schedule(twin):
    """Not slow: the 13 configs that do not run differ from their family's run config only so."""
    assert len(FAMILY_CONFIGS) == 18
    name = osp.basename(twin)
    family = max((f for f in RUNS if name.startswith(f + '_')), key=len)
    run = Config.fromfile(osp.join(CONFIG_DIR, RUNS[family])).to_dict()
    other = Config.fromfile(twin).to_dict()
    differ = {key for key in run.keys() | other.keys() if run.get(key) != other.get(key)}
    if '_smt_s_' in name:  # the same model, another schedule
        assert differ and differ <= SCHEDULE_KEYS, differ
        return
    assert differ <= BACKBONE_KEYS | SCHEDULE_KEYS, differ
    assert (differ & SCHEDULE_KEYS) == set() or name.endswith('_36e.py'), differ
    # the detector itself: only the backbone, and the FPN's inputs for Swin
    model_keys = {'backbone', 'neck'}
    assert _without(run, model_keys)['model'] == _without(other, model_keys)['model']
    neck_keys = {'in_channels', 'start_level'}
    necks = [{k: v for k, v in cfg['model']['neck'].items() if k not in neck_keys}
             for cfg in (run, other)]  # fmt: skip
    assert necks[0] == necks[1]
    assert other['optim_wrapper']['optimizer'] == run['optim_wrapper']['optimizer']


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_one_training_iteration_then_test(config, toy_coco, tmp_path):
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
