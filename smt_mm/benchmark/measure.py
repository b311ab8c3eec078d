"""Timing and peak memory of every case, case after case in fresh processes, and the ratios."""

import ctypes
import gc
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from .cases import DEFAULT_PAIRS, PLAIN_PAIRS, BenchmarkCase, CaseModel
from .report import machine_info

_GIB = 1024**3


@dataclass
class BenchmarkSettings:
    """How every case of a run is measured.

    Args:
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        warmup (int): Untimed runs before the timed ones. Defaults to 1.
        repeats (int): Timed runs: median, minimum and maximum. Defaults to 3.
        rounds (int): How many times the list of cases is measured, case after case, so that a
            drifting machine (a shared VM) slows a model and its baseline alike; times are
            pooled and each ratio is also listed round by round. Defaults to 1.
        amp (str, optional): ``'fp16'`` or ``'bf16'`` autocast; None runs fp32 (TF32 off on
            CUDA). Defaults to None.
        threads (int, optional): ``torch.set_num_threads`` in every case. Defaults to None.
        train (bool): Whether to time a training step. Defaults to True.
        flops (bool): Whether to count multiply-accumulates. Defaults to True.
        compile (bool): Whether to ``torch.compile`` every backbone. Defaults to False.
        isolate (bool): Whether to run every case in a fresh process, so that the allocator
            caches of one case cannot inflate the peak memory of the next. Defaults to True.
    """

    device: str = 'cpu'
    warmup: int = 1
    repeats: int = 3
    rounds: int = 1
    amp: str | None = None
    threads: int | None = None
    train: bool = True
    flops: bool = True
    compile: bool = False
    isolate: bool = True

    def __post_init__(self) -> None:
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f'device must be "cpu" or "cuda", got {self.device!r}')
        if self.amp not in (None, 'fp16', 'bf16'):
            raise ValueError(f'amp must be None, "fp16" or "bf16", got {self.amp!r}')
        if self.repeats < 1 or self.rounds < 1 or self.warmup < 0:
            raise ValueError('repeats and rounds must be >= 1 and warmup >= 0')


def _reset_peak_memory(device: str) -> None:
    """Start a phase's peak memory from the current use."""
    gc.collect()
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return
    try:  # hand freed heap pages back, so that the next phase starts from its own floor
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def _peak_memory(device: str) -> float:
    """Peak memory since the last reset (GiB): allocated tensors on CUDA, the RSS on CPU."""
    if device == 'cuda':
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / _GIB
    with open('/proc/self/status') as f:
        line = next(line for line in f if line.startswith('VmHWM:'))
    return int(line.split()[1]) * 1024 / _GIB


def time_runs(fn: Callable[[], None], settings: BenchmarkSettings) -> dict[str, Any]:
    """Run ``fn`` ``warmup + repeats`` times, synchronising CUDA around each timed run.

    Args:
        fn (Callable[[], None]): What to time.
        settings (BenchmarkSettings): ``device``, ``warmup`` and ``repeats`` are used.

    Returns:
        dict: ``median_s``, ``min_s``, ``max_s`` and ``times_s`` of the timed runs.
    """
    times = []
    for _ in range(settings.warmup + settings.repeats):
        if settings.device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if settings.device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return _summary(times[settings.warmup :])


def _summary(times: list[float]) -> dict[str, Any]:
    median = statistics.median(times)
    return dict(median_s=median, min_s=min(times), max_s=max(times), times_s=times)


def run_case(case: BenchmarkCase, settings: BenchmarkSettings) -> dict[str, Any]:
    """Measure one case in the current process.

    Returns:
        dict: The case, its parameters, per phase (``infer``, ``train``) the times (s) and
        peak memory (GiB), and its ``macs``.
    """
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    if settings.device == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    built = CaseModel(case, settings.device, settings.amp, settings.compile)
    record: dict[str, Any] = dict(
        asdict(case),
        name=case.name,
        model=case.model,
        task=built.task,
        params_m=built.params / 1e6,
        threads=torch.get_num_threads(),
        pid=os.getpid(),
    )
    phases = {'infer': built.infer}
    if settings.train and built.task == 'segmentation' and case.batch < 2:
        # The pooled 1x1 branch of UPerNet's PPM has BatchNorm, which cannot train on batch 1.
        record['train_skipped'] = 'segmentation training needs batch >= 2'
    elif settings.train:
        phases['train'] = built.train_step
    for phase, step in phases.items():
        _reset_peak_memory(settings.device)
        record[phase] = time_runs(step, settings)
        record[phase]['peak_memory_gb'] = _peak_memory(settings.device)
    if settings.flops:
        try:
            record['macs'] = built.macs()
        except Exception as error:  # a model jit cannot trace still gets its timings
            record['flops_error'] = f'{type(error).__name__}: {error}'
    return record


def _run_isolated(case: BenchmarkCase, settings: BenchmarkSettings) -> dict[str, Any]:
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_case, case, settings).result()


def _merge_rounds(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool the timed runs of one case over the rounds; peak memory is the highest."""
    merged = dict(records[0], rounds=len(records))
    for phase in ('infer', 'train'):
        if phase in merged:
            merged[phase] = dict(
                _summary([t for r in records for t in r[phase]['times_s']]),
                peak_memory_gb=max(r[phase]['peak_memory_gb'] for r in records),
            )
            merged[phase]['throughput'] = merged['batch'] / merged[phase]['median_s']
    return merged


def _ratios(record: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    ratios = {}
    for phase in ('infer', 'train'):
        if phase in record and phase in baseline:
            for name, key in (('time', 'median_s'), ('memory', 'peak_memory_gb')):
                ratios[f'{phase}_{name}'] = record[phase][key] / baseline[phase][key]
    if record.get('macs') and baseline.get('macs'):
        ratios['macs'] = record['macs'] / baseline['macs']
    return ratios


def pair_ratios(
    results: Iterable[dict[str, Any]],
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    rounds: Sequence[Iterable[dict[str, Any]]] = (),
) -> list[dict[str, Any]]:
    """Divide a model's numbers by its baseline's, for the cases measured in the same run.

    Args:
        results (Iterable[dict]): Records of :func:`run_case` (pooled over the rounds).
        pairs (Sequence[tuple[str, str]]): ``(backbone, baseline)`` pairs; SMT's fused/plain
            pairs (``('smt-s-fused', 'smt-s-plain')``, ...) are always added. Defaults to
            :data:`DEFAULT_PAIRS`.
        rounds (Sequence[Iterable[dict]]): The records of each round, to add the time and
            memory ratios round by round (``<ratio>_rounds``). Defaults to ``()``.

    Returns:
        list[dict]: Per pair, model and size: ``infer_time``, ``infer_memory``,
        ``train_time``, ``train_memory`` and ``macs`` (< 1: faster or leaner than the baseline).
    """

    def index(records: Iterable[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
        keys = ('model', 'backbone', 'height', 'width', 'batch')
        return {tuple(r[k] for k in keys): r for r in records}

    pooled, per_round = index(results), [index(records) for records in rounds]
    entries = []
    for (model, backbone, *size), record in pooled.items():
        for first, second in dict.fromkeys([*pairs, *PLAIN_PAIRS]):
            key = (model, second, *size)
            if backbone != first or key not in pooled:
                continue
            entry = dict(zip(('height', 'width', 'batch'), size, strict=True))
            entry.update(model=model, backbone=first, baseline=second)
            entry.update(_ratios(record, pooled[key]))
            mine = (model, first, *size)
            for name in ('infer_time', 'train_time', 'train_memory'):
                if name in entry and per_round:
                    entry[f'{name}_rounds'] = [_ratios(r[mine], r[key])[name] for r in per_round]
            entries.append(entry)
    return entries


def run_benchmark(
    cases: Sequence[BenchmarkCase],
    settings: BenchmarkSettings | None = None,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Measure every case, side by side, in one run.

    Args:
        cases (Sequence[BenchmarkCase]): The cases, e.g. from ``make_cases``.
        settings (BenchmarkSettings, optional): How to measure. None uses the defaults.
        pairs (Sequence[tuple[str, str]]): The pairs of :func:`pair_ratios`.
            Defaults to :data:`DEFAULT_PAIRS`.
        log (Callable, optional): Receives a progress line per case. Defaults to ``print``.

    Returns:
        dict: ``machine``, ``settings``, ``wall_time_s``, ``results`` (a record per case) and
        ``ratios``.
    """
    settings = settings or BenchmarkSettings()
    machine = machine_info(settings.device)
    start = time.time()
    rounds: list[list[dict[str, Any]]] = []
    for round_index in range(settings.rounds):
        # MACs do not change between rounds: count them in the first one only.
        round_settings = replace(settings, flops=settings.flops and round_index == 0)
        rounds.append([])
        for i, case in enumerate(cases):
            if log is not None:
                log(
                    f'[round {round_index + 1}/{settings.rounds}, {i + 1}/{len(cases)}] {case.name}'
                )
            run = _run_isolated if settings.isolate else run_case
            rounds[-1].append(run(case, round_settings))
    results = [_merge_rounds(records) for records in zip(*rounds, strict=True)]
    machine['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    return dict(
        machine=machine,
        settings=asdict(settings),
        wall_time_s=time.time() - start,
        results=results,
        ratios=pair_ratios(results, pairs, rounds if settings.rounds > 1 else ()),
    )
