"""The machine a benchmark ran on, and its report as JSON and Markdown tables."""

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from ..utils.compat import stack_summary

#: Environment variables that change CPU timings a lot (besides glibc's ``MALLOC_*``).
_TIMING_ENV = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'THP_MEM_ALLOC_ENABLE', 'LD_PRELOAD')


def machine_info(device: str = 'cpu') -> dict[str, Any]:
    """Describe the machine and the software a run measures.

    Args:
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.

    Returns:
        dict: CPU (or GPU) model, logical cores, torch threads, load average, versions
        (``stack``) and the timing-related environment (``env``).
    """
    cpu = platform.processor() or 'unknown'
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':')[1].strip() for line in f if 'model name' in line), cpu)
    info: dict[str, Any] = dict(
        cpu=cpu,
        logical_cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        load_average=[round(x, 2) for x in os.getloadavg()],
        torch=torch.__version__,
        stack=stack_summary(),
    )
    info['env'] = {
        k: v for k, v in os.environ.items() if k in _TIMING_ENV or k.startswith('MALLOC_')
    }
    if device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
    return info


def _spread(phase: dict[str, Any] | None) -> str:
    if phase is None:
        return '-'
    return f'{phase["median_s"]:.3f} ({phase["min_s"]:.3f}-{phase["max_s"]:.3f})'


def _ratio(entry: dict[str, Any], name: str) -> str:
    if name not in entry:
        return '-'
    rounds = entry.get(f'{name}_rounds')
    spread = f' ({min(rounds):.2f}-{max(rounds):.2f})' if rounds else ''
    return f'{entry[name]:.2f}{spread}'


def format_markdown(report: dict[str, Any]) -> str:
    """Render a report of :func:`~smt_mm.benchmark.measure.run_benchmark` as Markdown.

    Args:
        report (dict): The report.

    Returns:
        str: A line on the machine and the settings, the table of the cases and the table of
        the ratios (a ratio's lowest and highest round in brackets).
    """
    machine, settings = report['machine'], report['settings']
    cuda = settings['device'] == 'cuda'
    env = ''.join(f'{k}={v}, ' for k, v in machine['env'].items())
    timing = f'{settings["warmup"]} warm-up + {settings["repeats"]} timed runs'
    if settings['rounds'] > 1:
        timing += f' in each of {settings["rounds"]} rounds'
    lines = [
        f'Machine: {machine["gpu"] if cuda else machine["cpu"]}, {machine["logical_cores"]} '
        f'logical cores, {machine["torch_threads"]} torch threads, torch {machine["torch"]}, '
        f'{env}load average {machine["load_average"][0]} at '
        f'start / {machine["load_average_end"][0]} at end. Device {settings["device"]}, '
        f'{settings["amp"] or "fp32"}{", compiled" * settings["compile"]}, {timing}.',
        '',
        '| case | size | params (M) | GMac | inference s, median (min-max) | img/s '
        f'| train step s, median (min-max) | {"CUDA max allocated" if cuda else "peak RSS"} '
        'infer / train (GiB) |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in report['results']:
        infer, train = r['infer'], r.get('train')
        macs = f'{r["macs"] / 1e9:.1f}' if r.get('macs') else '-'
        train_memory = f'{train["peak_memory_gb"]:.2f}' if train else '-'
        lines.append(
            f'| {r["model"]}/{r["backbone"]} | {r["height"]}x{r["width"]} b{r["batch"]} '
            f'| {r["params_m"]:.1f} | {macs} | {_spread(infer)} | {infer["throughput"]:.2f} '
            f'| {_spread(train)} | {infer["peak_memory_gb"]:.2f} / {train_memory} |'
        )
    if report['ratios']:
        lines += [
            '',
            '| ratio | model | size | inference time | train step time | train peak memory '
            '| MACs |',
            '|---|---|---|---|---|---|---|',
        ]
        for q in report['ratios']:
            cells = [_ratio(q, k) for k in ('infer_time', 'train_time', 'train_memory', 'macs')]
            lines.append(
                f'| {q["backbone"]} / {q["baseline"]} | {q["model"]} '
                f'| {q["height"]}x{q["width"]} b{q["batch"]} | ' + ' | '.join(cells) + ' |'
            )
    return '\n'.join(lines) + '\n'


def save_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``benchmark.json`` and ``benchmark.md``.

    Args:
        report (dict): A report of :func:`~smt_mm.benchmark.measure.run_benchmark`.
        out_dir (str | Path): The output folder, created when missing.

    Returns:
        list[Path]: The written files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'benchmark.json').write_text(json.dumps(report, indent=2) + '\n')
    (out / 'benchmark.md').write_text(format_markdown(report))
    return [out / 'benchmark.json', out / 'benchmark.md']
