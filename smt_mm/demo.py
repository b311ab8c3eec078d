"""The demos behind ``make demo`` and ``make demo-seg``: a whole pipeline on toy data, on a CPU.

:func:`run_demo` generates the toy dataset of its task if absent, evaluates the untrained SMT-T
model, trains it from scratch, evaluates the trained model, prints the metrics side by side and
draws one validation image with the prediction and the ground truth. Detection: Mask R-CNN on
toy COCO shapes, COCO bbox and segm mAP. Segmentation: UPerNet on toy ADE20K shapes, mIoU and
per-class IoU, single-scale and multi-scale + flip.

Training and testing run in this process through :func:`~smt_mm.apis.train_model` and
:func:`~smt_mm.apis.test_model`, the functions behind ``tools/train.py`` and ``tools/test.py``.
"""

import json
import os
import os.path as osp
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .apis import build_model, test_model, train_model, write_eval_json
from .config import load_config
from .toydata import generate_ade20k, generate_coco
from .visualization import draw_example

#: The config overrides of a training run without validation (mmengine validates at the last
#: iteration whatever ``train_cfg.val_interval`` says): the demos evaluate after training.
NO_VALIDATION = {'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None}


def toy_data_options(data_root: str, ann_file: str | None = None) -> dict[str, str]:
    """The config overrides that point a toy config's datasets at another dataset root.

    Args:
        data_root (str): A folder written by a generator of :mod:`smt_mm.toydata`.
        ann_file (str, optional): The evaluators' annotation file relative to ``data_root``
            (COCO); None leaves the evaluators as they are. Defaults to None.

    Returns:
        dict[str, str]: Dotted keys (as ``--cfg-options`` takes them) and values.
    """
    root = data_root.rstrip('/') + '/'
    options = {f'{split}_dataloader.dataset.data_root': root for split in ('train', 'val', 'test')}
    if ann_file is not None:
        options |= {f'{split}_evaluator.ann_file': root + ann_file for split in ('val', 'test')}
    return options


def schedule_options(max_iters: int | None) -> dict[str, int]:
    """The config overrides that set a toy config's training length.

    The learning-rate decay of the toy configs (their second ``param_scheduler``) is stretched
    or shrunk with the run, so that a shorter or longer run also ends at the smallest rate.

    Args:
        max_iters (int, optional): Training iterations, more than the config's warm-up; None
            keeps the config's schedule.

    Returns:
        dict[str, int]: Dotted keys and values; empty for None.
    """
    if max_iters is None:
        return {}
    return {'train_cfg.max_iters': max_iters, 'param_scheduler.1.end': max_iters}


def save_initial_checkpoint(config: str, out_file: str, cfg_options: dict | None = None) -> str:
    """Save the weights a training run starts from (after ``init_weights``), untrained.

    Evaluating this file gives the baseline that training must beat.

    Args:
        config (str): The config file.
        out_file (str): The checkpoint to write.
        cfg_options (dict, optional): Config overrides. Defaults to None.

    Returns:
        str: ``out_file``.
    """
    cfg = load_config(config, cfg_options)
    model = build_model(cfg, seed=cfg.get('randomness', {}).get('seed') or 0)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    torch.save(
        {'meta': {'note': 'initial weights, untrained'}, 'state_dict': model.state_dict()}, out_file
    )
    return out_file


def train_checkpoint(config: str, work_dir: str, options: dict) -> tuple[str, float]:
    """Train with :func:`~smt_mm.apis.train_model` in this process.

    Args:
        config (str): The config file.
        work_dir (str): The work dir of the run.
        options (dict): Config overrides.

    Returns:
        tuple[str, float]: The last checkpoint and the training wall time in seconds.
    """
    cfg = load_config(config, options, work_dir)
    start = time.time()
    train_model(cfg)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip(), time.time() - start


def evaluate_checkpoint(
    config: str, checkpoint: str, work_dir: str, options: dict, tta: bool = False
) -> dict:
    """Evaluate a checkpoint with :func:`~smt_mm.apis.test_model` in this process.

    The run is named after ``work_dir``: mmengine shares one log file between the runs of one
    name that start within the same second, so give each evaluation its own work dir.

    Args:
        config (str): The config file.
        checkpoint (str): The checkpoint.
        work_dir (str): Where the metrics JSON and the log go.
        options (dict): Config overrides.
        tta (bool): Test-time augmentation. Defaults to False.

    Returns:
        dict: The metrics JSON record (``metrics``, ``tta``, ``timestamp``, ...) with its path
        under ``path``.
    """
    cfg = load_config(config, options, work_dir)
    cfg.experiment_name = osp.basename(osp.normpath(work_dir))
    _, path = test_model(cfg, checkpoint, tta=tta)
    assert path is not None  # one process: rank 0 writes the record
    with open(path) as f:
        return dict(json.load(f), path=path)


def read_class_iou(record: dict) -> dict[str, float]:
    """Read the per-class IoU table that mmseg's ``IoUMetric`` logged during a test run.

    The metrics JSON holds only the summary metrics; the per-class table goes to the run's log,
    ``<work_dir>/<timestamp>/<timestamp>.log``.

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


def format_table(columns: dict[str, dict[str, float]], digits: int = 2) -> str:
    """Lay out several evaluations side by side, one column each.

    Args:
        columns (dict[str, dict[str, float]]): Column title -> row name -> value; the rows
            of the first column, in its order.
        digits (int): Decimal places. Defaults to 2.

    Returns:
        str: A plain-text table with a header line.
    """
    rows = list(next(iter(columns.values())))
    width = max(len(row) for row in rows) + 2
    lines = [''.ljust(width) + ''.join(f'{title:>18}' for title in columns)]
    for row in rows:
        values = ''.join(f'{column[row]:18.{digits}f}' for column in columns.values())
        lines.append(row.ljust(width) + values)
    return '\n'.join(lines)


def _coco_rows(record: dict) -> dict[str, float]:
    keys = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP')
    return {key: record['metrics'].get(key, 0) for key in keys}


def _iou_rows(record: dict) -> dict[str, float]:
    ious = read_class_iou(record)
    return {'mIoU': record['metrics']['mIoU'], **{f'  {name}': iou for name, iou in ious.items()}}


#: The file :func:`run_demo` writes into its work dir: what the docs quote of a demo run.
RESULTS_FILE = 'demo_results.json'


def demo_markdown(results: dict) -> str:
    """A demo's results file as the docs quote it: the metrics table and how it was measured.

    Args:
        results (dict): A record as :func:`run_demo` writes it to :data:`RESULTS_FILE`.

    Returns:
        str: Markdown: one line on the run, a blank line, a table (one column per evaluation).
    """
    columns, digits = results['columns'], results['digits']
    first, last = results['load_average']
    rows = list(next(iter(columns.values())))
    tests = ', '.join(
        f'{title} test {seconds:.0f} s' for title, seconds in results['test_seconds'].items()
    )
    lines = [
        f'Measured on {results["date"]} with `{results["command"]}` ({results["max_iters"]} '
        f'training iterations; {results["wall_seconds"]:.0f} s in all, training '
        f'{results["train_seconds"]:.0f} s, {tests}, on the shared 2-core CPU at a load '
        f'average of {first:.1f} at the start, {last:.1f} at the end):',
        '',
        '| | ' + ' | '.join(columns) + ' |',
        '|:--|' + ':-:|' * len(columns),
    ]
    for row in rows:
        values = ' | '.join(f'{column[row]:.{digits}f}' for column in columns.values())
        lines.append(f'| {row.strip()} | {values} |')
    return '\n'.join(lines) + '\n'


@dataclass(frozen=True)
class DemoTask:
    """What differs between the demos.

    Attributes:
        generate (Callable): Writes the toy dataset into a root folder.
        data_root (str): The default dataset root.
        work_dir (str): The default work dir.
        generated (str): A path, relative to the dataset root, that exists once it is written.
        ann_file (str | None): The evaluators' annotation file (see :func:`toy_data_options`).
        tests (dict[str, bool]): Column title -> TTA, one evaluation of the trained model each.
        rows (Callable[[dict], dict[str, float]]): A record -> the rows of its column.
        digits (int): Decimal places of the table.
        picture (tuple[str, str]): File name and layout of the picture (of the validation
            image with the median score, see :func:`~smt_mm.visualization.example_sheet`).
    """

    generate: Callable[[str], object]
    data_root: str
    work_dir: str
    generated: str
    ann_file: str | None
    tests: dict[str, bool]
    rows: Callable[[dict], dict[str, float]]
    digits: int
    picture: tuple[str, str]


DEMO_TASKS: dict[str, DemoTask] = {
    'detection': DemoTask(
        generate_coco, 'data/toy_coco', 'work_dirs/demo_det',
        'annotations/instances_val2017.json', 'annotations/instances_val2017.json',
        {'trained': False}, _coco_rows, 3,
        ('val_prediction.jpg', 'ground truth | prediction; the validation image of median F1'),
    ),
    'segmentation': DemoTask(
        generate_ade20k, 'data/toy_ade20k', 'work_dirs/demo_seg', 'annotations/validation', None,
        {'single-scale': False, 'multi-scale+flip': True}, _iou_rows, 2,
        ('val_prediction.png', 'image | ground truth | prediction; the image of median mIoU'),
    ),
}  # fmt: skip


def run_demo(
    task: str,
    config: str,
    work_dir: str | None = None,
    data_root: str | None = None,
    max_iters: int | None = None,
) -> dict:
    """Run a demo end to end and print where everything is.

    Args:
        task (str): A key of :data:`DEMO_TASKS`: ``'detection'`` or ``'segmentation'``.
        config (str): The task's toy config (``configs/detection/mask_rcnn_smt_t_toy.py``,
            ``configs/segmentation/upernet_smt_t_toy.py`` in the repository).
        work_dir (str, optional): Where checkpoints, logs, metrics and the picture go; the
            evaluations in ``test_*`` folders. None: the task's (``work_dirs/demo_det``,
            ``work_dirs/demo_seg``). Defaults to None.
        data_root (str, optional): The toy dataset, generated with the generator's defaults
            when absent. None: the task's (``data/toy_coco``, ``data/toy_ade20k``).
            Defaults to None.
        max_iters (int, optional): Training iterations (the learning-rate decay follows);
            None keeps the config's. Defaults to None.

    Returns:
        dict: Wall times (s), each evaluation's record and table column (``untrained`` and
        the trained model's), the checkpoint, the picture and ``results``: the file
        :data:`RESULTS_FILE` in the work dir (the table, the date, the command, the times and
        the load average; :func:`demo_markdown` renders it as the docs quote it).
    """
    start, start_load = time.time(), os.getloadavg()[0]
    spec = DEMO_TASKS[task]
    work_dir = work_dir or spec.work_dir
    data_root = data_root or spec.data_root
    if not osp.exists(osp.join(data_root, spec.generated)):
        print(f'generating the toy dataset in {data_root}', flush=True)
        spec.generate(data_root)
    options = toy_data_options(data_root, spec.ann_file)

    untrained = save_initial_checkpoint(config, osp.join(work_dir, 'untrained.pth'))
    test_dir = osp.join(work_dir, 'test_untrained')
    print(f'[1/4] evaluating the untrained model ({test_dir})', flush=True)
    records = {'untrained': evaluate_checkpoint(config, untrained, test_dir, options)}
    train_options = options | schedule_options(max_iters) | NO_VALIDATION
    print(f'[2/4] training from scratch ({work_dir})', flush=True)
    checkpoint, train_seconds = train_checkpoint(config, work_dir, train_options)
    test_seconds = {}
    for title, tta in spec.tests.items():
        test_start = time.time()
        test_dir = osp.join(work_dir, 'test_tta' if tta else 'test')
        print(f'[3/4] evaluating the trained model, {title} ({test_dir})', flush=True)
        records[title] = evaluate_checkpoint(config, checkpoint, test_dir, options, tta)
        test_seconds[title] = round(time.time() - test_start, 1)

    file_name, layout = spec.picture
    print(f'[4/4] drawing a validation image ({osp.join(work_dir, file_name)})', flush=True)
    cfg = load_config(config, options)
    picture = draw_example(cfg, checkpoint, osp.join(work_dir, file_name))
    columns = {title: spec.rows(record) for title, record in records.items()}
    summary = dict(
        wall_seconds=round(time.time() - start, 1),
        train_seconds=round(train_seconds, 1),
        test_seconds=test_seconds,
        records=records,
        columns=columns,
        checkpoint=checkpoint,
        picture=picture,
    )
    results = dict(
        task=task,
        date=time.strftime('%Y-%m-%d'),
        command=f'python tools/demo.py {task}' + (f' --max-iters {max_iters}' if max_iters else ''),
        max_iters=max_iters or load_config(config).train_cfg.max_iters,
        wall_seconds=summary['wall_seconds'],
        train_seconds=summary['train_seconds'],
        test_seconds=test_seconds,
        load_average=[round(start_load, 2), round(os.getloadavg()[0], 2)],  # start, end
        digits=spec.digits,
        columns=columns,
    )
    summary['results'] = write_eval_json(osp.join(work_dir, RESULTS_FILE), results)
    print(f'\n=== smt_mm {task} demo ===')
    print(f'data:          {data_root}')
    print(f'checkpoint:    {checkpoint}')
    for title in spec.tests:
        print(f'metrics json:  {records[title]["path"]} ({title})')
    print(f'picture:       {picture}  ({layout})')
    print(f'results:       {summary["results"]} (what docs/{task}.md quotes)')
    print(f'on the validation images:\n{format_table(columns, spec.digits)}')
    tests = ', '.join(f'{title} test {seconds:.0f} s' for title, seconds in test_seconds.items())
    print(
        f'wall time:     {summary["wall_seconds"]:.0f} s (training {train_seconds:.0f} s, {tests})'
    )
    return summary
