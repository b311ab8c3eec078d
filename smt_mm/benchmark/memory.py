"""Memory of a training run over its iterations: does it plateau or creep?

:class:`MemorySamplingHook` samples, every ``interval`` iterations, the resident memory (RSS)
of the training process and of each of its data-loader workers (the children named
:data:`~smt_mm.engine.signals.WORKER_NAME`: others, such as torch's compile workers, are left
out), the number of objects the garbage collector tracks and the number of values mmengine's
message hub keeps (its log history grows by one value per logged scalar and iteration). The samples
go to a JSON-lines file as they are taken, so a run that dies still leaves its curve.
:func:`measure_training_memory` trains a config in this process with the hook,
:func:`summarize_memory` fits the growth per 100 iterations over each half of the run and
:func:`plot_memory` draws the curve. RSS is read from ``/proc``: Linux only.
"""

import gc
import json
import os
import os.path as osp
import time

import numpy as np
from mmengine.config import Config, ConfigDict
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..apis import train_model
from ..engine.signals import WORKER_NAME
from ..utils.processes import child_pids, process_rss


def _history_length(runner: object) -> int:
    """How many values the message hub's log buffers hold together."""
    hub = getattr(runner, 'message_hub', None)
    if hub is None:
        return 0
    return sum(len(buffer.data[0]) for buffer in hub.log_scalars.values())


@HOOKS.register_module()
class MemorySamplingHook(Hook):
    """Sample the memory of the training process and its workers every ``interval`` iterations.

    The first sample is taken before the first iteration (iteration 0), then one after every
    ``interval``-th iteration and one after the last. Each sample is one JSON line::

        {"iter": 10, "time": 12.3, "main_mb": 1250.1, "workers_mb": [560.2],
         "gc_objects": 301245, "history_values": 140}

    Args:
        out_file (str): The JSON-lines file; it is started afresh.
        interval (int): Iterations between samples. Defaults to 10.
        count_objects (bool): Count the objects the garbage collector tracks (tens of
            milliseconds per sample on a detector). Defaults to True.
    """

    priority = 'VERY_LOW'

    def __init__(self, out_file: str, interval: int = 10, count_objects: bool = True) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.out_file = out_file
        self.interval = interval
        self.count_objects = count_objects
        self._start = 0.0

    def before_train(self, runner: object) -> None:
        """Start the file and take the sample of iteration 0."""
        os.makedirs(osp.dirname(osp.abspath(self.out_file)), exist_ok=True)
        open(self.out_file, 'w').close()
        self._start = time.perf_counter()
        self._sample(runner, 0)

    def after_train_iter(
        self,
        runner: object,
        batch_idx: int,
        data_batch: object = None,
        outputs: object = None,
    ) -> None:
        """Sample after every ``interval``-th iteration and after the last one."""
        done = runner.iter + 1  # type: ignore[attr-defined]
        if done % self.interval == 0 or done == runner.max_iters:  # type: ignore[attr-defined]
            self._sample(runner, done)

    def _sample(self, runner: object, iteration: int) -> None:
        pid = os.getpid()
        workers = [process_rss(child) for child in child_pids(pid, WORKER_NAME)]
        record = dict(
            iter=iteration,
            time=round(time.perf_counter() - self._start, 3),
            main_mb=round(process_rss(pid) or 0.0, 2),
            workers_mb=[round(rss, 2) for rss in workers if rss is not None],
            gc_objects=len(gc.get_objects()) if self.count_objects else None,
            history_values=_history_length(runner),
        )
        with open(self.out_file, 'a') as f:
            f.write(json.dumps(record) + '\n')


def read_samples(path: str) -> list[dict]:
    """Read the samples a :class:`MemorySamplingHook` wrote.

    Args:
        path (str): The JSON-lines file.

    Returns:
        list[dict]: The samples, in the order they were taken.
    """
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def measure_training_memory(
    cfg: Config, out_file: str, iters: int = 1000, interval: int = 10
) -> list[dict]:
    """Train a loaded config for ``iters`` iterations in this process and sample its memory.

    The run is iteration-based whatever the config says (an epoch-based config's data loader
    is cycled; its epoch-based schedules step once, at the end), so that every config is
    measured over the same number of iterations, and it does not validate (mmengine would at
    the last iteration): the curve is the training's.

    Args:
        cfg (Config): The config from :func:`~smt_mm.config.load_config` (data and work dir
            set), changed in place: the training loop, validation (none) and the sampling
            hook are set.
        out_file (str): The JSON-lines file of the samples.
        iters (int): Training iterations. Defaults to 1000.
        interval (int): Iterations between samples. Defaults to 10.

    Returns:
        list[dict]: The samples (see :class:`MemorySamplingHook`).
    """
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    cfg.train_cfg = ConfigDict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    hooks = list(cfg.get('custom_hooks') or [])
    hooks.append(ConfigDict(type='MemorySamplingHook', out_file=out_file, interval=interval))
    cfg.custom_hooks = hooks
    train_model(cfg)
    return read_samples(out_file)


def _slope(iters: np.ndarray, values: np.ndarray) -> float | None:
    """Least-squares growth per 100 iterations; None with fewer than two points."""
    if len(iters) < 2 or np.ptp(iters) == 0:
        return None
    return float(np.polyfit(iters, values, 1)[0] * 100)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def summarize_memory(samples: list[dict]) -> dict:
    """The start, end and peak of each curve and its growth over each half of the run.

    A curve that plateaus grows over the first half (warm-up: allocator pools, caches) and
    hardly over the second; a leak keeps its slope.

    Args:
        samples (list[dict]): The samples of :class:`MemorySamplingHook`.

    Returns:
        dict: For ``main_mb`` and ``workers_mb`` (the workers summed): ``start``, ``end``,
        ``peak`` (MB), ``first_half_mb_per_100_iters`` and ``second_half_mb_per_100_iters``;
        and ``iters``, the last iteration sampled.

    Raises:
        ValueError: If there are no samples.
    """
    if not samples:
        raise ValueError('no memory samples: did the run reach its first iteration?')
    iters = np.array([s['iter'] for s in samples], dtype=float)
    middle = iters[-1] / 2
    first, second = iters <= middle, iters >= middle
    summary: dict = dict(iters=int(iters[-1]))
    for key in ('main_mb', 'workers_mb'):
        values = np.array(
            [sum(s[key]) if isinstance(s[key], list) else s[key] for s in samples], dtype=float
        )
        summary[key] = dict(
            start=round(float(values[0]), 1),
            end=round(float(values[-1]), 1),
            peak=round(float(values.max()), 1),
            first_half_mb_per_100_iters=_rounded(_slope(iters[first], values[first])),
            second_half_mb_per_100_iters=_rounded(_slope(iters[second], values[second])),
        )
    return summary


def plot_memory(samples: list[dict], out_file: str, title: str) -> str:
    """Draw the memory of the training process and of each worker over the iterations.

    Args:
        samples (list[dict]): The samples of :class:`MemorySamplingHook`.
        out_file (str): The picture (PNG) to write; its folder is created.
        title (str): The title (the config and the machine, say).

    Returns:
        str: ``out_file``.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    iters = [s['iter'] for s in samples]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.plot(iters, [s['main_mb'] for s in samples], label='training process', color='tab:blue')
    num_workers = max(len(s['workers_mb']) for s in samples)
    for worker in range(num_workers):
        values = [
            s['workers_mb'][worker] if worker < len(s['workers_mb']) else np.nan for s in samples
        ]
        ax.plot(iters, values, label=f'data-loader worker {worker}', color=f'C{worker + 1}')
    ax.set_title(title)
    ax.set_xlabel('training iteration')
    ax.set_ylabel('resident memory, RSS (MB)')
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file)
    plt.close(fig)
    return out_file
