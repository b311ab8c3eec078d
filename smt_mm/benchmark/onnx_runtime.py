"""ONNX Runtime against PyTorch on the CPU: the same graph, timed side by side in one run.

Each case is exported once (SMT's plain path, as :func:`~smt_mm.deployment.export_onnx` does);
then, in every round, PyTorch runs the module as users run it (SMT's default path: fused on the
CPU) and ONNX Runtime runs the file, one after the other, with the benchmark's timing
(:func:`~.measure.time_runs`): a drifting shared machine slows both alike.
"""

import copy
import functools
import os
import os.path as osp
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from mmengine.config import Config
from torch import nn

from ..apis import build_model
from ..deployment import TASKS, OnnxModel, build_graph, export_graph, set_smt_path
from ..deployment.export import choose_exporter
from ..models.backbones.smt import SMT
from .cases import BACKBONES
from .measure import BenchmarkSettings, time_runs
from .report import machine_info


@dataclass
class SpeedCase:
    """One graph to time: an SMT backbone of the benchmark (``'smt-s'``) or a config's model.

    ``what`` is ``'model'`` or ``'backbone'`` for a config (ignored for a backbone name).
    """

    model: str
    height: int
    width: int
    batch: int = 1
    what: str = 'model'

    @property
    def name(self) -> str:
        """str: A readable label of the case."""
        label = self.model if self.model in BACKBONES else osp.splitext(osp.basename(self.model))[0]
        suffix = (
            ' (backbone + neck)' if self.model not in BACKBONES and self.what == 'backbone' else ''
        )
        return f'{label}{suffix}'


def build_case(case: SpeedCase) -> nn.Module:
    """The PyTorch module of a case, on SMT's default path, in eval mode (seeded weights)."""
    if case.model in BACKBONES:
        spec = copy.deepcopy(BACKBONES[case.model])
        if spec.pop('type') != 'SMT':
            raise ValueError(f'{case.model!r} is not an SMT backbone of the benchmark')
        torch.manual_seed(0)
        return SMT(**spec).eval()
    model = build_model(case.model)
    task = TASKS[cast(Config, model.cfg).default_scope]
    return build_graph(model, task, case.what, dynamic=False).eval()


def run_onnx_benchmark(
    cases: Sequence[SpeedCase],
    settings: BenchmarkSettings,
    work_dir: str,
    exporter: str = 'auto',
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Time every case with PyTorch and with ONNX Runtime, in turn, round after round.

    Args:
        cases (Sequence[SpeedCase]): The cases.
        settings (BenchmarkSettings): ``warmup``, ``repeats``, ``rounds`` and ``threads``
            (torch's and ONNX Runtime's intra-op threads) are used; the device is the CPU.
        work_dir (str): Where the ONNX files go.
        exporter (str): One of :data:`~smt_mm.deployment.export.EXPORTERS`. Defaults to ``'auto'``.
        log (Callable, optional): Receives a progress line per step. Defaults to ``print``.

    Returns:
        dict: ``machine``, ``settings``, ``wall_time_s`` and per case its times
        (``pytorch``, ``onnxruntime``: median, min, max of the pooled runs) and ``ratio``
        (ONNX Runtime / PyTorch median, with the per-round ratios).
    """
    if settings.device != 'cpu':
        raise ValueError('the ONNX Runtime comparison runs on the CPU')
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    start = time.time()
    exporter, note = choose_exporter(exporter)  # the report names the exporter that ran
    if note is not None and log is not None:
        log(note)
    machine = machine_info('cpu')
    prepared = []
    for case in cases:
        if log is not None:
            log(f'exporting {case.name} at {case.height}x{case.width}')
        module = build_case(case)
        inputs = torch.randn(case.batch, 3, case.height, case.width)
        path = osp.join(work_dir, f'{case.name.split()[0]}_{case.height}x{case.width}.onnx')
        set_smt_path(module, False)
        sample = inputs if case.batch > 1 else inputs.repeat(2, 1, 1, 1)  # a dynamic batch
        export_graph(module, sample, path, ['out'], False, exporter)
        set_smt_path(module, 'auto')
        prepared.append((case, module, inputs, OnnxModel(path, settings.threads)))
    times: list[dict[str, list[float]]] = [dict(pytorch=[], onnxruntime=[]) for _ in cases]
    rounds: list[list[float]] = [[] for _ in cases]
    for index in range(settings.rounds):
        for (case, module, inputs, onnx_model), record, ratios in zip(
            prepared, times, rounds, strict=True
        ):
            if log is not None:
                log(f'[round {index + 1}/{settings.rounds}] {case.name}')
            with torch.no_grad():
                ours = time_runs(functools.partial(module, inputs), settings)
            run_onnx = cast(Callable[[], None], functools.partial(onnx_model, inputs.numpy()))
            theirs = time_runs(run_onnx, settings)
            record['pytorch'] += ours['times_s']
            record['onnxruntime'] += theirs['times_s']
            ratios.append(theirs['median_s'] / ours['median_s'])
    results = []
    for (case, module, *_), record, ratios in zip(prepared, times, rounds, strict=True):
        entry: dict[str, Any] = dict(asdict(case), name=case.name)
        entry['params_m'] = sum(p.numel() for p in module.parameters()) / 1e6
        for runtime, values in record.items():
            entry[runtime] = dict(
                median_s=statistics.median(values), min_s=min(values), max_s=max(values)
            )
        entry['ratio'] = entry['onnxruntime']['median_s'] / entry['pytorch']['median_s']
        entry['ratio_rounds'] = ratios
        results.append(entry)
    return dict(
        machine=dict(machine, load_average_end=[round(x, 2) for x in os.getloadavg()]),
        settings=dict(asdict(settings), exporter=exporter),
        wall_time_s=time.time() - start,
        results=results,
    )


def format_onnx_markdown(report: dict[str, Any]) -> str:
    """The machine line and the table of a :func:`run_onnx_benchmark` report."""
    machine, settings = report['machine'], report['settings']
    lines = [
        f'Machine: {machine["cpu"]}, {machine["logical_cores"]} logical cores, '
        f'{machine["torch_threads"]} torch threads, torch {machine["torch"]}, load average '
        f'{machine["load_average"][0]} at start / {machine["load_average_end"][0]} at end; '
        f'{settings["warmup"]} warm-up + {settings["repeats"]} timed runs in each of '
        f'{settings["rounds"]} round(s), {settings["exporter"]} exporter.',
        '',
        '| model | input | params (M) | PyTorch s, median (min-max) '
        '| ONNX Runtime s, median (min-max) | ONNX Runtime / PyTorch (rounds) |',
        '|---|---|---|---|---|---|',
    ]
    for r in report['results']:
        cells = [
            f'{r[k]["median_s"]:.3f} ({r[k]["min_s"]:.3f}-{r[k]["max_s"]:.3f})'
            for k in ('pytorch', 'onnxruntime')
        ]
        spread = ', '.join(f'{x:.2f}' for x in r['ratio_rounds'])
        lines.append(
            f'| {r["name"]} | {r["height"]}x{r["width"]} b{r["batch"]} | {r["params_m"]:.1f} '
            f'| {cells[0]} | {cells[1]} | {r["ratio"]:.2f} ({spread}) |'
        )
    return '\n'.join(lines) + '\n'
