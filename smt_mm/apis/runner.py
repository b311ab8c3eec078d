"""Training and testing with any of mmdet, mmseg or mmpretrain, behind tools/train.py and test.py.

The functions follow the toolboxes' own ``tools/train.py`` / ``tools/test.py`` (mmdet 3.x,
mmseg 1.x, mmpretrain 1.x), with three additions:

* every local path the run reads is checked before anything is built
  (:func:`~smt_mm.config.check_config_paths`);
* without a GPU, distributed runs use the ``gloo`` backend and CPU process groups, so
  ``tools/dist_train.sh CONFIG 2`` works on a laptop;
* :func:`test_model` writes its metrics to ``<work_dir>/eval_<timestamp>.json``.

and the reliability checks of docs/troubleshooting.md: unknown ``--cfg-options``
keys and mismatched neck widths fail at start, ``--resume`` fails when there is nothing to
resume and skips truncated checkpoints, test checkpoints must fit the model, empty test sets
and empty metrics fail, distributed runs time out after :data:`DIST_TIMEOUT` seconds.
"""

import datetime
import json
import math
import os
import os.path as osp
import time

import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import get_rank, is_distributed
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..config import (
    add_dump_results,
    apply_tta,
    check_config_paths,
    enable_visualization,
    get_scope,
)
from ..datasets import check_num_classes
from ..engine import (
    RunError,
    WorkDirLock,
    end_workers_now,
    end_workers_with_runner,
    find_resume_checkpoint,
    stop_on_signals,
)
from ..engine.workdir import describe_resume_search
from ..utils.models import unwrap_model
from .quiet import ConsoleQuietRunner, quiet_console

#: Seconds a distributed collective waits for the other ranks before the run fails
#: (``env_cfg.dist_cfg.timeout`` overrides it; torch's default for gloo is 30 minutes).
DIST_TIMEOUT = 600


def _revert_sync_bn(node: object) -> int:
    """Replace ``SyncBN`` norm configs by ``BN`` in place; return how many were replaced."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _revert_sync_bn(value)
    elif isinstance(node, list):
        for value in node:
            count += _revert_sync_bn(value)
    return count


def _init_cpu_process_group(launcher: str, backend: str, timeout: float | None) -> None:
    """Start a CPU process group from the launcher's environment.

    mmengine's ``init_dist`` always calls ``torch.cuda.set_device``; starting the group here
    first makes the runner skip it (it only initialises when no group exists).
    """
    if launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        if 'MASTER_ADDR' not in os.environ:
            import subprocess

            node_list = os.environ['SLURM_NODELIST']
            first = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
            os.environ['MASTER_ADDR'] = first
        os.environ.setdefault('MASTER_PORT', '29500')
    elif launcher == 'mpi':
        os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
        os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
        os.environ.setdefault('LOCAL_RANK', os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')
    torch.distributed.init_process_group(
        backend=backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        timeout=None if timeout is None else datetime.timedelta(seconds=timeout),
    )


def setup_device(cfg: Config) -> None:
    """Adapt a distributed config to a machine without GPU (no-op with a GPU or one process).

    Every distributed run: a collective waits at most ``env_cfg.dist_cfg.timeout`` seconds
    (:data:`DIST_TIMEOUT` unless the config sets it), so a rank whose peers died fails instead
    of waiting for torch's 30 minutes.

    Without CUDA: the ``gloo`` backend (``env_cfg.dist_cfg.backend``), a CPU process group,
    ``MMDistributedDataParallel`` without ``device_ids``, and plain BN instead of SyncBN (which
    needs CUDA), each reported in the log.

    Args:
        cfg (Config): The loaded config (``launcher`` set), changed in place.
    """
    if cfg.launcher == 'none':
        return
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg.setdefault('timeout', DIST_TIMEOUT)
    if torch.cuda.is_available():
        return
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f'no GPU: distributed backend {dist_cfg.get("backend", "nccl")} -> gloo')
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    reverted = _revert_sync_bn(cfg.model)
    if reverted:
        print_log(f'no GPU: {reverted} SyncBN layer config(s) -> BN (SyncBN needs CUDA)')
    if not is_distributed():
        _init_cpu_process_group(cfg.launcher, 'gloo', dist_cfg.get('timeout'))


def build_runner(cfg: Config) -> Runner:
    """Build the runner a config asks for (``runner_type``, else mmengine's ``Runner``).

    Its data-loader workers end with the run, even when it is killed
    (:func:`~smt_mm.engine.end_workers_with_runner`).

    After ``set_verbosity(False)`` (the tools' default) its console leaves out the
    known-harmless messages of :mod:`smt_mm.apis.quiet`; the log file keeps every record.

    Args:
        cfg (Config): The prepared config.

    Returns:
        Runner: The runner.
    """
    if 'runner_type' not in cfg:
        runner = ConsoleQuietRunner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
        quiet_console(runner.logger)  # from the end of its construction on
    end_workers_with_runner(runner)
    return runner


def _add_hook(cfg: Config, hook_type: str, **kwargs: object) -> None:
    """Add ``dict(type=hook_type, **kwargs)`` to ``custom_hooks``, or the arguments it lacks."""
    hooks = list(cfg.get('custom_hooks') or [])
    found = [hook for hook in hooks if isinstance(hook, dict) and hook.get('type') == hook_type]
    if not found:
        hooks.append(ConfigDict(type=hook_type, **kwargs))
    for hook in found:
        for key, value in kwargs.items():
            hook.setdefault(key, value)
    cfg.custom_hooks = hooks


def _checked_runner(cfg: Config, mode: str) -> Runner:
    """Check the config's paths for ``mode``, adapt it to the device and build its runner."""
    check_config_paths(cfg, mode)
    setup_device(cfg)
    return build_runner(cfg)


def prepare_train_config(
    cfg: Config,
    amp: bool = False,
    resume: str | None = None,
    auto_scale_lr: bool = False,
    start_fresh_if_none: bool = False,
    save_on_sigterm: bool = False,
) -> Config:
    """Apply the training command-line switches to a loaded config.

    Args:
        cfg (Config): The config from :func:`~smt_mm.config.load_config`, changed in place.
        amp (bool): Mixed-precision training (``AmpOptimWrapper``, dynamic loss scale); needs
            a CUDA GPU. Defaults to False.
        resume (str, optional): ``'auto'`` resumes from the newest intact checkpoint of the
            work dir (:func:`~smt_mm.engine.find_resume_checkpoint`: ``last_checkpoint``,
            else the newest ``epoch_N`` / ``iter_N`` file; truncated files are skipped with a
            warning), a path from that checkpoint, None starts afresh. Defaults to None.
        auto_scale_lr (bool): Scale the learning rate by the actual batch size over
            ``auto_scale_lr.base_batch_size``. Defaults to False.
        start_fresh_if_none (bool): With ``resume='auto'``, start from scratch when the work
            dir holds no checkpoint (jobs that are restarted: preemption, requeue) instead of
            failing. Defaults to False.
        save_on_sigterm (bool): On SIGTERM, save a checkpoint after the iteration in progress,
            then stop (``default_hooks.checkpoint.save_on_sigterm`` of
            :class:`~smt_mm.engine.SafeCheckpointHook`). Defaults to False.

    Returns:
        Config: ``cfg``.

    Raises:
        RuntimeError: If ``amp`` is asked for without a CUDA GPU.
        KeyError: If ``auto_scale_lr`` is asked for and the config has no ``auto_scale_lr``.
        RunError: If ``resume='auto'`` finds no intact checkpoint in the work dir (and
            ``start_fresh_if_none`` is False); the message says where it looked.
    """
    if amp:
        if not torch.cuda.is_available():
            raise RuntimeError(
                '--amp needs a CUDA GPU (mixed precision runs float16 on CUDA); '
                'none is available here, train without --amp'
            )
        optim_wrapper = cfg.optim_wrapper
        if optim_wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in the config')
        else:
            optim_wrapper.type = 'AmpOptimWrapper'
            optim_wrapper.loss_scale = 'dynamic'
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if save_on_sigterm:
        hooks = cfg.setdefault('default_hooks', ConfigDict())
        if hooks.get('checkpoint', {}) is None:
            raise RunError('--save-on-sigterm needs the checkpoint hook: the config disables it')
        hooks.setdefault('checkpoint', ConfigDict(type='CheckpointHook')).save_on_sigterm = True
    if resume == 'auto':
        found = find_resume_checkpoint(cfg.work_dir)
        if found is None and not start_fresh_if_none:
            raise RunError(
                f'--resume: nothing to resume in the work dir {osp.abspath(cfg.work_dir)} '
                f'(looked for {describe_resume_search(cfg.work_dir)}, intact ones). Check '
                '--work-dir (by default work_dirs/<config name>), pass a checkpoint '
                '(--resume PATH), or use --auto-resume to start from scratch when there is '
                'nothing to resume.'
            )
        if found is None:
            print_log(f'nothing to resume in {cfg.work_dir}: training from scratch')
            cfg.resume = False
        else:
            print_log(f'resuming from {found}')
            cfg.resume = True
        cfg.load_from = found
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def train_model(cfg: Config, strict: bool = True) -> Runner:
    """Check the paths, adapt to the device, build the runner and train.

    Args:
        cfg (Config): The config from :func:`~smt_mm.config.load_config` (with the
            command-line switches of :func:`prepare_train_config` applied), changed in place.
        strict (bool): A ``load_from`` checkpoint must fit the model exactly (keys and shapes,
            :class:`~smt_mm.engine.SMTCheckpointHook`); False loads the matching part with
            mmengine's warnings (fine-tuning a model with other heads). A resumed checkpoint
            must always fit. Defaults to True.

    Returns:
        Runner: The runner after training (its ``model`` holds the trained weights).

    The run also checks its training data (:class:`~smt_mm.datasets.TrainDataCheckHook`) and
    seeds its random generators from the seed and the iteration, so that a resumed run trains
    on exactly what the uninterrupted one would have (:class:`~smt_mm.engine.ExactResumeHook`).

    Raises:
        ConfigPathError: If a checkpoint or dataset path of the config does not exist.
        CheckpointMismatchError: If a resumed (or, ``strict``, a ``load_from``) checkpoint does
            not fit the model; raised before the optimizer state is loaded.
        RunError: If the work dir is locked by another run, the loss becomes NaN or infinite,
            a label map holds values outside the classes, the model's heads and the dataset
            differ in the number of classes, or the disk is full.
        Stopped: On SIGTERM or SIGINT (:func:`~smt_mm.engine.stop_on_signals`); the message
            names the last intact checkpoint and the command that resumes from it.
    """
    _add_hook(cfg, 'TrainDataCheckHook')
    _add_hook(cfg, 'ExactResumeHook')
    if cfg.get('load_from') and (cfg.get('resume') or strict):
        _add_hook(cfg, 'SMTCheckpointHook', **_checkpoint_hook_args(cfg))
    with stop_on_signals('training', cfg.work_dir, cfg.launcher):
        runner = _checked_runner(cfg, 'train')
        try:
            runner.train()
        finally:  # on an error too: the next run need not take over a stale lock
            end_workers_now(runner)
            if get_rank() == 0:
                WorkDirLock(runner.work_dir).release()
    return runner


def _checkpoint_hook_args(cfg: Config) -> dict[str, str]:
    """How :class:`~smt_mm.engine.SMTCheckpointHook` names a training run's checkpoint and fix."""
    if cfg.get('resume'):
        fix = (
            '--resume continues a run of this same model: pass a checkpoint of this config '
            '(its work dir), or start from the weights of another model with load_from (and '
            '--non-strict for the matching part).'
        )
    else:
        fix = (
            'load_from needs a checkpoint of this model; to load the matching part on purpose '
            '(e.g. other heads), train with --non-strict, or start only the backbone with '
            "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH, "
            "prefix='backbone.')."
        )
    return dict(source=f'The checkpoint {cfg.load_from}', fix=fix)


def _to_builtin(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _to_builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_builtin(v) for v in value]
    if hasattr(value, 'tolist'):  # numpy and torch scalars / arrays
        return value.tolist()
    return value


def write_eval_json(path: str, record: dict) -> str:
    """Write an evaluation record as JSON (numpy / torch values become plain numbers).

    Args:
        path (str): The file to write; its folder is created.
        record (dict): The record, e.g. the one :func:`test_model` builds.

    Returns:
        str: ``path``.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(_to_builtin(record), f, indent=2)
    return path


def _test_set_name(cfg: Config) -> str:
    dataset = cfg.test_dataloader.get('dataset', {})
    root, ann_file = dataset.get('data_root') or '', dataset.get('ann_file') or ''
    return osp.join(root, ann_file) if ann_file else root


def _check_test_set(runner: Runner, cfg: Config) -> None:
    """Fail before testing when the test set is empty (builds the test loop)."""
    empty = RunError(
        f'the test set is empty ({_test_set_name(cfg)}): nothing to evaluate. Check '
        'test_dataloader.dataset (data_root, ann_file, data_prefix) and metainfo.classes.'
    )
    try:
        size = len(runner.test_dataloader.dataset)
    except ValueError as err:  # mmengine's serialisation of an empty data list
        if 'need at least one array to concatenate' in str(err):
            raise empty from err
        raise
    if size == 0:
        raise empty


def _check_metrics(cfg: Config, metrics: dict) -> None:
    """Fail when the evaluation measured nothing (no metric, or only -1 / NaN)."""
    where = _test_set_name(cfg)
    plain = {str(k): _to_builtin(v) for k, v in metrics.items()}
    values = [v for v in plain.values() if isinstance(v, int | float)]
    if not any(math.isfinite(v) and v != -1 for v in values):
        found = json.dumps(plain)
        raise RunError(
            f'the evaluation measured nothing (metrics: {found}; -1 and NaN mean "no ground '
            f'truth"): the test set ({where}) has no annotations the evaluator can use. Check '
            'the annotation file and that metainfo.classes names its categories.'
        )


def test_model(
    cfg: Config,
    checkpoint: str,
    tta: bool = False,
    show_dir: str | None = None,
    show: bool = False,
    wait_time: float = 2.0,
    out: str | None = None,
    strict: bool = True,
) -> tuple[dict, str | None]:
    """Apply the switches, check the paths, evaluate, and write the metrics JSON.

    The JSON file is ``<work_dir>/eval_<timestamp>.json`` (rank 0 only), where ``<timestamp>``
    is the runner's (``%Y%m%d_%H%M%S``, also the name of mmengine's log folder of the run)::

        {"config": "configs/...py", "checkpoint": "...pth", "tta": false, "scope": "mmdet",
         "timestamp": "20260101_120000", "metrics": {"coco/bbox_mAP": 0.41, ...},
         "outputs": {"log": ".../20260101_120000.log", "pictures": "...", "predictions": "..."}}

    ``outputs`` names what the run wrote: the log, and with ``show_dir`` / ``out`` the folder
    of the pictures and the predictions.

    ``metrics`` is exactly what the test loop returns: the evaluator's metric names with the
    metric prefix (``coco/`` for mmdet's CocoMetric, e.g. ``mIoU`` for mmseg, ``accuracy/top1``
    for mmpretrain).

    Args:
        cfg (Config): The config from :func:`~smt_mm.config.load_config`, changed in place.
        checkpoint (str): The checkpoint to evaluate (becomes ``load_from``).
        tta (bool): Test-time augmentation with the config's ``tta_model`` and
            ``tta_pipeline``. Defaults to False.
        show_dir (str, optional): Save pictures of the predictions there; a relative folder is
            relative to the work dir, for every toolbox (mmseg's pictures go into its
            ``vis_data/vis_image`` subfolder, one every ``interval`` images of its
            ``SegVisualizationHook``). Defaults to None.
        show (bool): Show the pictures in a window. Defaults to False.
        wait_time (float): Seconds each shown picture stays. Defaults to 2.0.
        out (str, optional): Also dump the raw predictions there
            (see :func:`~smt_mm.config.add_dump_results`). Defaults to None.
        strict (bool): The checkpoint's keys and shapes must match the model exactly
            (:class:`~smt_mm.engine.SMTCheckpointHook`); False loads what matches, as
            mmengine does, with warnings (``tools/test.py --non-strict``: intentional partial
            loads). Defaults to True.

    Returns:
        tuple[dict, str | None]: The metrics and the JSON file (None on ranks other than 0).

    Raises:
        ConfigPathError: If the checkpoint or a test dataset path does not exist.
        CheckpointMismatchError: If ``strict`` and the checkpoint does not fit the model.
        RunError: If the test set is empty, the model's heads and the test set differ in the
            number of classes, or the evaluation gave no metric (nothing is written then).
        Stopped: On SIGTERM or SIGINT (:func:`~smt_mm.engine.stop_on_signals`).
    """
    cfg.load_from = checkpoint
    if strict:
        _add_hook(cfg, 'SMTCheckpointHook')
    if show_dir:  # absolute: each toolbox would resolve a relative one differently
        show_dir = osp.abspath(osp.join(cfg.work_dir, show_dir))
    if show or show_dir:
        enable_visualization(cfg, show_dir, show, wait_time)
    if tta:
        apply_tta(cfg)
    if out is not None:
        add_dump_results(cfg, out)
    with stop_on_signals('testing', cfg.work_dir, cfg.launcher):
        runner = _checked_runner(cfg, 'test')
        _check_test_set(runner, cfg)
        dataset = runner.test_dataloader.dataset
        check_num_classes(unwrap_model(runner.model), dataset, 'test_dataloader.dataset')
        try:
            metrics = runner.test()
        finally:
            end_workers_now(runner)
    _check_metrics(cfg, metrics)
    if get_rank() != 0:
        return metrics, None
    outputs = {'log': runner.logger.log_file}
    if show_dir:
        # mmseg's visualiser saves through mmengine's LocalVisBackend, in vis_data/vis_image
        scope = get_scope(cfg)
        mmseg_dir = osp.join(show_dir, 'vis_data', 'vis_image')
        outputs['pictures'] = mmseg_dir if scope == 'mmseg' else show_dir
    if out is not None:
        outputs['predictions'] = out
    record = dict(
        config=cfg.filename,
        checkpoint=checkpoint,
        tta=tta,
        scope=get_scope(cfg),
        timestamp=runner.timestamp,
        finished=time.strftime('%Y-%m-%d %H:%M:%S'),
        metrics=metrics,
        outputs=outputs,
    )
    path = write_eval_json(osp.join(cfg.work_dir, f'eval_{runner.timestamp}.json'), record)
    print_log(f'metrics written to {path}', logger='current')
    return metrics, path


def training_outputs(runner: Runner) -> dict[str, str]:
    """The files a training run wrote, for the last lines of ``tools/train.py``.

    Args:
        runner (Runner): The runner after :func:`train_model`.

    Returns:
        dict[str, str]: ``checkpoint`` (the last one, when one was saved), ``log`` (mmengine's
        log file) and ``scalars`` (the losses and learning rates as JSON lines, when written).
    """
    outputs = {}
    last = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            outputs['checkpoint'] = f.read().strip()
    outputs['log'] = runner.logger.log_file
    scalars = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    if osp.isfile(scalars):
        outputs['scalars'] = scalars
    return outputs
