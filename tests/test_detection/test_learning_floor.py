"""The toy detector learns: SMT-T Mask R-CNN trained from scratch beats a measured mAP floor.

Through the real tools, as ``make demo`` runs them, on the demo's generated dataset:
``tools/test.py`` on the initial weights, ``tools/train.py`` for the first 200 of the toy
config's 400 iterations, ``tools/test.py`` on the trained checkpoint (COCO bbox and segm mAP).
"""

import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

from smt_mm.apis.demo import save_initial_checkpoint, toy_coco_overrides
from smt_mm.toydata import generate_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')

pytestmark = pytest.mark.slow

# Measured on the 2-core CPU (seed 0, one thread, about 1.2 s per iteration when idle): after
# these 200 iterations bbox mAP 0.089 / segm mAP 0.106 in one run and 0.041 / 0.048 in another
# (the detector is still learning fast at this point, so runs differ); the untrained model
# scores 0.000 / 0.000. The floors are half of the lower run; a run that does not learn stays at
# the untrained level and fails.
ITERS = 200
FLOORS = {'coco/bbox_mAP': 0.02, 'coco/segm_mAP': 0.02}


def run_tool(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def evaluate(checkpoint: str, work_dir: str, options: list[str]) -> dict:
    run_tool(osp.join('tools', 'test.py'), TOY, checkpoint, '--work-dir', work_dir,
             '--cfg-options', *options)  # fmt: skip
    (path,) = glob.glob(osp.join(work_dir, 'eval_*.json'))
    with open(path) as f:
        return json.load(f)['metrics']


def test_toy_mask_rcnn_learns_from_scratch(tmp_path):
    data_root = str(tmp_path / 'toy_coco')
    generate_coco(data_root)  # the dataset of `make demo`
    options = toy_coco_overrides(data_root)
    initial = save_initial_checkpoint(TOY, str(tmp_path / 'untrained.pth'))
    untrained = evaluate(initial, str(tmp_path / 'untrained'), options)

    work_dir = str(tmp_path / 'train')
    run_tool(
        osp.join('tools', 'train.py'), TOY, '--work-dir', work_dir, '--cfg-options', *options,
        f'train_cfg.max_iters={ITERS}', 'train_cfg.val_interval=100000000',
        f'default_hooks.checkpoint.interval={ITERS}',
    )  # fmt: skip
    trained = evaluate(osp.join(work_dir, f'iter_{ITERS}.pth'), str(tmp_path / 'test'), options)

    for key, floor in FLOORS.items():
        assert trained[key] >= floor, (key, untrained, trained)
        assert trained[key] >= untrained[key] + 0.015, (key, untrained, trained)
