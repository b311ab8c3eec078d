"""The trained toy models that several test modules share, each trained once per test session.

Training is the expensive part of an end-to-end test, so every slow test that needs a trained
model takes one of the session fixtures of ``conftest.py`` built from here:
``toy_detection_run``, ``toy_segmentation_run`` and ``toy_classification_run``. Each is a
:class:`ToyRun`: the toy config, its trained checkpoint, the work dir and the generated data,
with the ``--cfg-options`` that point the config at that data.
"""

import glob
import json
import os.path as osp
import subprocess
import sys
from typing import NamedTuple

from smt_mm import demo
from smt_mm.toydata import generate_ade20k, generate_coco, generate_imagenet

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: The toy config of each task.
TOY_CONFIGS = {
    'detection': osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py'),
    'segmentation': osp.join(ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py'),
    'classification': osp.join(ROOT, 'configs', 'classification', 'smt_t_toy.py'),
}

#: Detection: the first 200 of the toy config's 400 iterations on the demo's dataset, in this
#: process (the learning-floor test's run). Segmentation: the demo's 120 iterations through
#: ``tools/train.py``. Classification: the toy config's own 3 epochs, 150 images per class.
DETECTION_ITERS = 200
SEGMENTATION_ITERS = 120
CLASSIFICATION_IMAGES = (150, 25)


class ToyRun(NamedTuple):
    """A finished training run of a toy config."""

    config: str
    checkpoint: str
    work_dir: str
    data_root: str
    cfg_options: list[str]

    @property
    def options(self) -> dict[str, str]:
        """:attr:`cfg_options` as the dict that :func:`smt_mm.apis.load_config` takes."""
        return dict(option.split('=', 1) for option in self.cfg_options)


def _cli(options: dict) -> list[str]:
    return [f'{key}={value}' for key, value in options.items()]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    """Run a script of the repository with this interpreter; fail with its output."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f'{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result


def train_detection(tmp: str) -> ToyRun:
    """SMT-T Mask R-CNN on the demo's toy COCO, trained in this process."""
    config = TOY_CONFIGS['detection']
    data_root = osp.join(tmp, 'toy_coco')
    generate_coco(data_root)  # the dataset of `make demo`
    options = demo.toy_data_options(data_root, 'annotations/instances_val2017.json')
    schedule = {'train_cfg.max_iters': DETECTION_ITERS, **demo.NO_VALIDATION}
    work_dir = osp.join(tmp, 'train')
    checkpoint, _ = demo.train_checkpoint(config, work_dir, options | schedule)
    return ToyRun(config, checkpoint, work_dir, data_root, _cli(options))


def train_segmentation(tmp: str) -> ToyRun:
    """SMT-T UPerNet on the demo's toy ADE20K, trained through ``tools/train.py``."""
    config = TOY_CONFIGS['segmentation']
    data_root = osp.join(tmp, 'toy_ade20k')
    generate_ade20k(data_root)  # the demo's dataset: 200 training, 50 validation images
    options = _cli(demo.toy_data_options(data_root))
    schedule = _cli(demo.schedule_options(SEGMENTATION_ITERS))
    work_dir = osp.join(tmp, 'train')
    result = run_tool(
        'tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options, *schedule
    )
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run = ToyRun(config, checkpoint, work_dir, data_root, options)
    with open(osp.join(work_dir, 'train_output.log'), 'w') as f:
        f.write(result.stdout + result.stderr)
    return run


def train_classification(tmp: str) -> ToyRun:
    """SMT-T on the toy ImageNet (32 px), trained through ``tools/train.py``."""
    config = TOY_CONFIGS['classification']
    data_root = osp.join(tmp, 'toy_imagenet')
    generate_imagenet(data_root, *CLASSIFICATION_IMAGES, size=32)
    options = [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    work_dir = osp.join(tmp, 'train')
    run_tool('tools/train.py', config, '--work-dir', work_dir, '--cfg-options', *options)
    checkpoints = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    assert len(checkpoints) == 1, checkpoints
    return ToyRun(config, checkpoints[0], work_dir, data_root, options)


def logged_losses(work_dir) -> dict[int, float]:
    """``{iteration: loss}`` from every run logged in ``work_dir`` (a resumed run: both)."""
    losses = {}
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    losses[record['step']] = record['loss']
    return losses
