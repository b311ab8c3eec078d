"""End to end on the toy classification data: tools/train.py learns, tools/test.py evaluates, and
the checkpoint it writes starts the backbones of the detection and segmentation configs.
"""

import glob
import json
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from toy_runs import run_tool

from smt_mm.models.checkpoint import safe_torch_load
from smt_mm.toydata import toy_classes

ROOT = REPO_ROOT
CONFIG = osp.join(ROOT, 'configs', 'classification', 'smt_t_toy.py')
DETECTION_TOY = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
SEGMENTATION_TOYS = sorted(glob.glob(osp.join(ROOT, 'configs', 'segmentation', '*smt_t*toy*.py')))

CHANCE = 100 / len(toy_classes())
# The shared run (toy_runs.train_classification). Measured with the same recipe (SMT-T, 32 px, 150
# images per class, batch 16, 3 epochs, AdamW 5e-4) in a plain PyTorch loop on one CPU thread:
# top-1 54 % after training, 25 % = chance (what the untrained model scores). Asserted with a wide
# margin: CPU kernels differ between machines.
TOP1_FLOOR = 40.0


def data_options(data_root: str) -> list[str]:
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
    ]


def evaluate(checkpoint: str, data_root: str, work_dir: str) -> float:
    run_tool(
        'tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir,
        '--cfg-options', *data_options(data_root),
    )  # fmt: skip
    (record,) = glob.glob(osp.join(work_dir, 'eval_*.json'))
    with open(record) as f:
        return json.load(f)['metrics']['accuracy/top1']


@pytest.fixture(name='trained')
def fixture_trained(toy_classification_run, tmp_path_factory):
    """The shared run (``toy_runs.train_classification``): (checkpoint, data root, tmp dir)."""
    run = toy_classification_run
    return run.checkpoint, run.data_root, tmp_path_factory.mktemp('toy_classification_test')


@pytest.mark.slow
def test_training_raises_top1_above_chance(trained):
    checkpoint, data_root, tmp = trained
    top1 = evaluate(checkpoint, data_root, str(tmp / 'test'))
    assert top1 >= TOP1_FLOOR > CHANCE


def _backbone_of(checkpoint: str) -> dict:
    state_dict = safe_torch_load(checkpoint)['state_dict']
    return {
        k.removeprefix('backbone.'): v for k, v in state_dict.items() if k.startswith('backbone.')
    }


def _assert_handoff(config: str, scope: str, checkpoint: str) -> None:
    cfg = Config.fromfile(config)
    assert cfg.model.backbone.type == 'SMT'
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    init_default_scope(scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    expected = _backbone_of(checkpoint)
    loaded = model.backbone.state_dict()
    assert loaded.keys() == expected.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(loaded[name], tensor, rtol=0, atol=0, msg=name)


@pytest.mark.slow
def test_checkpoint_starts_the_detection_backbone(trained):
    _assert_handoff(DETECTION_TOY, 'mmdet', trained[0])


@pytest.mark.slow
@pytest.mark.parametrize('config', SEGMENTATION_TOYS, ids=osp.basename)
def test_checkpoint_starts_the_segmentation_backbone(trained, config):
    _assert_handoff(config, 'mmseg', trained[0])
