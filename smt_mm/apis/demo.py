"""``make demo``: the whole detection pipeline on generated data, on a CPU, in a few minutes.

Generates the toy COCO shapes (if absent), evaluates the untrained SMT-T Mask R-CNN, trains it
from scratch with ``tools/train.py``, evaluates it with ``tools/test.py`` (COCO bbox and segm
mAP) and draws the ground truth and the prediction of one validation image.
"""

import json
import os
import os.path as osp
import subprocess
import sys
import time

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import set_random_seed

from ..toydata import generate_coco

#: The repository root (the package is installed in development mode from it).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_DET_CONFIG = osp.join('configs', 'detection', 'mask_rcnn_smt_t_toy.py')


def toy_coco_overrides(data_root: str) -> list[str]:
    """The ``--cfg-options`` that point the toy detection config at another dataset root.

    Args:
        data_root (str): A folder written by :func:`~smt_mm.toydata.generate_coco`.

    Returns:
        list[str]: ``KEY=VALUE`` strings for the train/val/test datasets and evaluators.
    """
    root = data_root.rstrip('/') + '/'
    ann_file = root + 'annotations/instances_val2017.json'
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={ann_file}',
        f'test_evaluator.ann_file={ann_file}',
    ]


def toy_schedule_overrides(max_iters: int) -> list[str]:
    """The ``--cfg-options`` that set the toy detection schedule's length.

    The cosine decay of the toy config (its second ``param_scheduler``) is stretched or shrunk
    with the run, so that a shorter or longer run also ends at the smallest learning rate.

    Args:
        max_iters (int): Training iterations, more than the config's warm-up (50).

    Returns:
        list[str]: ``KEY=VALUE`` strings for ``train_cfg`` and the cosine decay.
    """
    return [f'train_cfg.max_iters={max_iters}', f'param_scheduler.1.end={max_iters}']


def save_initial_checkpoint(config: str, out_file: str, cfg_options: dict | None = None) -> str:
    """Save the weights a training run starts from (after ``init_weights``), untrained.

    Evaluating this file with ``tools/test.py`` gives the baseline that training must beat.

    Args:
        config (str): The config file.
        out_file (str): The checkpoint to write.
        cfg_options (dict, optional): Config overrides. Defaults to None.

    Returns:
        str: ``out_file``.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.default_scope)
    set_random_seed(cfg.get('randomness', {}).get('seed') or 0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    torch.save(
        {'meta': {'note': 'initial weights, untrained'}, 'state_dict': model.state_dict()}, out_file
    )
    return out_file


def _run(cmd: list[str]) -> float:
    print('+ ' + ' '.join(cmd), flush=True)
    start = time.time()
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    return time.time() - start


def _metrics(work_dir: str, before: set[str]) -> tuple[dict, str]:
    new = sorted(f for f in os.listdir(work_dir) if f.startswith('eval_') and f not in before)
    path = osp.join(work_dir, new[-1])
    with open(path) as f:
        return json.load(f)['metrics'], path


def _evaluate(test_cmd: list[str], work_dir: str) -> tuple[dict, str, float]:
    before = set(os.listdir(work_dir)) if osp.isdir(work_dir) else set()
    seconds = _run(test_cmd)
    metrics, path = _metrics(work_dir, before)
    return metrics, path, seconds


def run_detection_demo(
    work_dir: str = 'work_dirs/demo_det',
    data_root: str = 'data/toy_coco',
    max_iters: int | None = None,
    python: str = sys.executable,
) -> dict:
    """Run the detection demo end to end and print where everything is.

    Args:
        work_dir (str): Where checkpoints, logs, metrics and the picture go, relative to the
            repository root. Defaults to ``'work_dirs/demo_det'``.
        data_root (str): The toy dataset, generated when absent. Defaults to
            ``'data/toy_coco'``.
        max_iters (int, optional): Training iterations (the learning-rate decay follows);
            None keeps the config's. Defaults to None.
        python (str): The interpreter that runs the tools. Defaults to the current one.

    Returns:
        dict: Wall times (s), the untrained and trained metrics, and the written files.
    """
    start = time.time()
    os.chdir(REPO_ROOT)
    ann_file = osp.join(data_root, 'annotations', 'instances_val2017.json')
    if not osp.isfile(ann_file):
        print(f'generating the toy COCO dataset in {data_root}', flush=True)
        generate_coco(data_root)
    options = toy_coco_overrides(data_root)
    # tools/test.py evaluates the final checkpoint; no validation inside the training run
    train_options = [*options, 'train_cfg.val_interval=100000000']
    if max_iters is not None:
        train_options += toy_schedule_overrides(max_iters)
    config = TOY_DET_CONFIG
    train_py = osp.join('tools', 'train.py')
    test_py = osp.join('tools', 'test.py')

    untrained = save_initial_checkpoint(config, osp.join(work_dir, 'untrained.pth'))
    untrained_metrics, _, _ = _evaluate(
        [python, test_py, config, untrained, '--work-dir', work_dir, '--cfg-options', *options],
        work_dir,
    )
    train_seconds = _run(
        [python, train_py, config, '--work-dir', work_dir, '--cfg-options', *train_options]
    )
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    metrics, eval_json, _ = _evaluate(
        [python, test_py, config, checkpoint, '--work-dir', work_dir, '--cfg-options', *options],
        work_dir,
    )
    from ..visualization import draw_detection_example

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in toy_coco_overrides(data_root)))
    picture = draw_detection_example(cfg, checkpoint, osp.join(work_dir, 'val_prediction.jpg'))

    summary = dict(
        wall_seconds=round(time.time() - start, 1),
        train_seconds=round(train_seconds, 1),
        untrained=untrained_metrics,
        trained=metrics,
        checkpoint=checkpoint,
        eval_json=eval_json,
        picture=picture,
    )
    print('\n=== smt_mm detection demo ===')
    print(f'data:          {data_root}')
    print(f'checkpoint:    {checkpoint}')
    print(f'metrics json:  {eval_json}')
    print(f'picture:       {picture}  (left: ground truth, right: prediction)')
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP'):
        print(
            f'{key:17s} untrained {untrained_metrics.get(key, 0):.3f}  '
            f'trained {metrics.get(key, 0):.3f}'
        )
    print(f'wall time:     {summary["wall_seconds"]:.0f} s (training {train_seconds:.0f} s)')
    return summary
