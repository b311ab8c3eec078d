"""``make demo-seg``: the whole segmentation pipeline on generated data, on a CPU, in minutes.

Generates the toy ADE20K-layout shapes (if absent), evaluates the untrained SMT-T UPerNet,
trains it from scratch with ``tools/train.py``, evaluates it with ``tools/test.py`` single-scale
and with ``--tta`` (multi-scale + flip), and draws image | prediction | ground truth of one
validation image.
"""

import json
import os
import os.path as osp
import subprocess
import sys
import time

from mmengine.config import Config

from ..toydata import generate_ade20k
from .demo import REPO_ROOT, save_initial_checkpoint

TOY_SEG_CONFIG = osp.join('configs', 'segmentation', 'upernet_smt_t_toy.py')


def toy_ade20k_overrides(data_root: str) -> list[str]:
    """The ``--cfg-options`` that point the toy segmentation config at another dataset root.

    Args:
        data_root (str): A folder written by :func:`~smt_mm.toydata.generate_ade20k`.

    Returns:
        list[str]: ``KEY=VALUE`` strings for the train/val/test datasets.
    """
    return [
        f'{split}_dataloader.dataset.data_root={data_root}' for split in ('train', 'val', 'test')
    ]


def toy_schedule_overrides(max_iters: int) -> list[str]:
    """The ``--cfg-options`` that shorten or lengthen the toy config's schedule.

    The poly decay ends, and the model is validated and saved, at ``max_iters``.

    Args:
        max_iters (int): Training iterations.

    Returns:
        list[str]: ``KEY=VALUE`` strings.
    """
    return [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'param_scheduler.1.end={max_iters}',
        f'default_hooks.checkpoint.interval={max_iters}',
    ]


def run_tool(cmd: list[str]) -> float:
    """Run one command from the repository root, echoing it; fail if it fails.

    Args:
        cmd (list[str]): The command.

    Returns:
        float: Its wall time in seconds.
    """
    print('+ ' + ' '.join(cmd), flush=True)
    start = time.time()
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)
    return time.time() - start


def evaluate_checkpoint(
    config: str,
    checkpoint: str,
    work_dir: str,
    options: list[str],
    tta: bool = False,
    python: str = sys.executable,
) -> dict:
    """Evaluate a checkpoint with ``tools/test.py`` and read back the metrics it wrote.

    Args:
        config (str): The config file.
        checkpoint (str): The checkpoint.
        work_dir (str): The work dir of ``tools/test.py`` (the metrics JSON goes there).
        options (list[str]): ``--cfg-options`` ``KEY=VALUE`` strings.
        tta (bool): Add ``--tta``. Defaults to False.
        python (str): The interpreter that runs the tool. Defaults to the current one.

    Returns:
        dict: The metrics JSON record (``metrics``, ``tta``, ...) with its path under ``path``.
    """
    work_dir = osp.join(REPO_ROOT, work_dir)
    before = set(os.listdir(work_dir)) if osp.isdir(work_dir) else set()
    cmd = [python, osp.join('tools', 'test.py'), config, checkpoint, '--work-dir', work_dir]
    cmd += ['--tta'] if tta else []
    run_tool([*cmd, '--cfg-options', *options])
    new = sorted(f for f in os.listdir(work_dir) if f.startswith('eval_') and f not in before)
    path = osp.join(work_dir, new[-1])
    with open(path) as f:
        record = json.load(f)
    record['path'] = path
    return record


def read_class_iou(record: dict) -> dict[str, float]:
    """Read the per-class IoU table that mmseg's ``IoUMetric`` logged during a test run.

    ``tools/test.py`` writes only the summary metrics to its JSON; the per-class table goes to the
    run's log, ``<work_dir>/<timestamp>/<timestamp>.log``.

    Args:
        record (dict): A record returned by :func:`evaluate_checkpoint`.

    Returns:
        dict[str, float]: IoU (%) by class name, in class order; NaN for a class absent from
        both the ground truth and the predictions.

    Raises:
        ValueError: If the log holds no per-class table.
    """
    work_dir, timestamp = osp.dirname(record['path']), record['timestamp']
    with open(osp.join(work_dir, timestamp, f'{timestamp}.log')) as f:
        lines = f.read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.endswith('per class results:')]
    if not starts:
        raise ValueError(f'no per-class results in the log of {record["path"]}')
    ious: dict[str, float] = {}
    header: list[str] = []
    for line in lines[starts[-1] + 1 :]:
        if line.startswith('+'):
            if ious:
                break  # the table's closing border
            continue
        if not line.startswith('|'):
            continue
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        if not header:
            header = cells
            continue
        ious[cells[0]] = float(cells[header.index('IoU')])
    return ious


def format_results_table(columns: dict[str, dict]) -> str:
    """Lay out mIoU and per-class IoU of several evaluations side by side.

    Args:
        columns (dict[str, dict]): Column title -> a record of :func:`evaluate_checkpoint` with
            ``class_iou`` (from :func:`read_class_iou`) added.

    Returns:
        str: A plain-text table, one row for the mIoU and one per class.
    """
    titles = list(columns)
    classes = list(next(iter(columns.values()))['class_iou'])
    width = max(len(name) for name in ['mIoU', *classes]) + 2
    rows = [''.ljust(width) + ''.join(f'{title:>18}' for title in titles)]
    rows.append(
        'mIoU'.ljust(width) + ''.join(f'{c["metrics"]["mIoU"]:18.2f}' for c in columns.values())
    )
    for name in classes:
        values = ''.join(f'{c["class_iou"][name]:18.2f}' for c in columns.values())
        rows.append(f'  {name}'.ljust(width) + values)
    return '\n'.join(rows)


def run_segmentation_demo(
    work_dir: str = 'work_dirs/demo_seg',
    data_root: str = 'data/toy_ade20k',
    max_iters: int | None = None,
    python: str = sys.executable,
) -> dict:
    """Run the segmentation demo end to end and print where everything is.

    Args:
        work_dir (str): Where checkpoints, logs, metrics and the picture go, relative to the
            repository root. Defaults to ``'work_dirs/demo_seg'``.
        data_root (str): The toy dataset, generated with the defaults of
            :func:`~smt_mm.toydata.generate_ade20k` when absent. Defaults to
            ``'data/toy_ade20k'``.
        max_iters (int, optional): Training iterations; None keeps the config's.
            Defaults to None.
        python (str): The interpreter that runs the tools. Defaults to the current one.

    Returns:
        dict: Wall times (s); the untrained, single-scale and multi-scale mIoU and per-class
        IoU (``*_class_iou``); the files.
    """
    start = time.time()
    os.chdir(REPO_ROOT)
    if not osp.isdir(osp.join(data_root, 'annotations', 'validation')):
        print(f'generating the toy ADE20K dataset in {data_root}', flush=True)
        generate_ade20k(data_root)
    options = toy_ade20k_overrides(data_root)
    if max_iters is not None:
        options += toy_schedule_overrides(max_iters)
    config = TOY_SEG_CONFIG

    untrained = save_initial_checkpoint(config, osp.join(work_dir, 'untrained.pth'))
    untrained_ss = evaluate_checkpoint(config, untrained, work_dir, options, python=python)
    train_cmd = [python, osp.join('tools', 'train.py'), config, '--work-dir', work_dir]
    train_seconds = run_tool([*train_cmd, '--cfg-options', *options])
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    single = evaluate_checkpoint(config, checkpoint, work_dir, options, python=python)
    test_start = time.time()
    multi = evaluate_checkpoint(config, checkpoint, work_dir, options, tta=True, python=python)
    tta_seconds = time.time() - test_start
    columns = {'untrained': untrained_ss, 'single-scale': single, 'multi-scale+flip': multi}
    for record in columns.values():
        record['class_iou'] = read_class_iou(record)

    from ..visualization import draw_segmentation_example

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in toy_ade20k_overrides(data_root)))
    picture = draw_segmentation_example(cfg, checkpoint, osp.join(work_dir, 'val_prediction.png'))

    summary = dict(
        wall_seconds=round(time.time() - start, 1),
        train_seconds=round(train_seconds, 1),
        tta_seconds=round(tta_seconds, 1),
        untrained_mIoU=untrained_ss['metrics']['mIoU'],
        single_scale_mIoU=single['metrics']['mIoU'],
        multi_scale_mIoU=multi['metrics']['mIoU'],
        untrained_class_iou=untrained_ss['class_iou'],
        single_scale_class_iou=single['class_iou'],
        multi_scale_class_iou=multi['class_iou'],
        checkpoint=checkpoint,
        eval_json=[single['path'], multi['path']],
        picture=picture,
    )
    print('\n=== smt_mm segmentation demo ===')
    print(f'data:           {data_root}')
    print(f'checkpoint:     {checkpoint}')
    print(f'metrics json:   {single["path"]} (single-scale), {multi["path"]} (--tta)')
    print(f'picture:        {picture}  (image | prediction | ground truth)')
    print(f'IoU (%) on the validation images:\n{format_results_table(columns)}')
    print(
        f'wall time:      {summary["wall_seconds"]:.0f} s (training {train_seconds:.0f} s, '
        f'--tta test {tta_seconds:.0f} s)'
    )
    return summary
