"""A/B timing of SMT's CUDA levers against its plain path and Swin-T, on one warm GPU.

Part of ``.dev_scripts/gpu_check.sh`` (issue 28). Every case is measured by the benchmark of
:mod:`smt_mm.benchmark` (``run_case``: warm-up, synchronised timed runs, CUDA peak
memory), all in this one process, one case after another, each saved as soon as it is done,
so that a stage cut short by its time budget keeps what it measured. Levers:

* ``mhmc`` layouts of the plain path (``SMT(mhmc=...)``): dense NCHW heads, stack-last
  interleave, both; the Triton MHMC kernels on the plain and the fused path;
* ``torch.backends.cudnn.benchmark`` (a stage of its own: it is a process-wide switch);
* ``torch.compile`` (bf16; Swin-T compiled too).

Examples:
    python .dev_scripts/gpu_levers.py plan                       # what would run, no GPU needed
    python .dev_scripts/gpu_levers.py run fp32-eager --out DIR --budget-s 70
    python .dev_scripts/gpu_levers.py profile --out DIR
    python .dev_scripts/gpu_levers.py table DIR                  # one table of every stage
"""

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smt_mm import benchmark as bench

SWIN = 'swin-t-mmpretrain'
PLAIN = 'smt-s-plain'
#: The SMT-S variants under test (added to the benchmark's backbone table), by name.
VARIANTS: dict[str, dict[str, Any]] = {
    'smt-s-plain-nchw': dict(fused=False, mhmc='conv-nchw'),
    'smt-s-plain-stack-last': dict(fused=False, mhmc='conv-stack-last'),
    'smt-s-plain-nchw-stack-last': dict(fused=False, mhmc='conv-nchw-stack-last'),
    'smt-s-plain-triton': dict(fused=False, mhmc='triton'),
    'smt-s-fused-triton': dict(fused=True, mhmc='triton'),
}
ALL_MODELS = (SWIN, PLAIN, 'smt-s-fused', *VARIANTS)
SIZES = ((224, 224, 64), (800, 1344, 2))


@dataclass(frozen=True)
class Stage:
    """One stage of the A/B run: cases measured with the same settings.

    Args:
        name (str): The stage's name (``run NAME``), also its output folder.
        models (tuple[str, ...]): Backbone names (the benchmark's table plus :data:`VARIANTS`).
        sizes (tuple[tuple[int, int, int], ...]): ``(height, width, batch)`` of every case.
        amp (str, optional): ``'bf16'`` autocast or None for fp32 (TF32 off).
        compile (bool): ``torch.compile`` every backbone.
        cudnn_benchmark (bool): Set ``torch.backends.cudnn.benchmark``.
        train (bool): Time a training step too (inference only when False).
    """

    name: str
    models: tuple[str, ...]
    sizes: tuple[tuple[int, int, int], ...] = SIZES
    amp: str | None = None
    compile: bool = False
    cudnn_benchmark: bool = False
    train: bool = True


#: In order of importance: a late stage is the first to go when time runs short.
STAGES = (
    Stage('fp32-eager', ALL_MODELS),
    Stage('bf16-eager', ALL_MODELS, amp='bf16'),
    Stage(
        'bf16-eager-cudnn-benchmark',
        (SWIN, PLAIN, 'smt-s-plain-nchw'),
        amp='bf16',
        cudnn_benchmark=True,
    ),  # fmt: skip
    Stage('bf16-compiled-224', (SWIN, PLAIN), SIZES[:1], amp='bf16', compile=True),
    Stage('bf16-compiled-800', (SWIN, PLAIN), SIZES[1:], amp='bf16', compile=True, train=False),
)


def register_variants() -> None:
    """Add :data:`VARIANTS` to the benchmark's backbone table (SMT-S, its drop-path rate)."""
    for name, options in VARIANTS.items():
        bench.BACKBONES[name] = dict(bench.BACKBONES['smt-s'], **options)


def stage_by_name(name: str) -> Stage:
    """Return the stage called ``name``; a clear error lists the others."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise SystemExit(f'unknown stage {name!r}; choose from {[s.name for s in STAGES]}')


def cases(stage: Stage) -> list[bench.BenchmarkCase]:
    """The cases of a stage, sizes outermost (a model and its baselines measured together)."""
    return [bench.BenchmarkCase(m, h, w, b) for h, w, b in stage.sizes for m in stage.models]


def settings(stage: Stage, warmup: int = 2, repeats: int = 5) -> bench.BenchmarkSettings:
    """The benchmark settings of a stage: CUDA, in this process, no MAC counting."""
    return bench.BenchmarkSettings(
        device='cuda', warmup=warmup, repeats=repeats, amp=stage.amp, train=stage.train,
        flops=False, compile=stage.compile, isolate=False,
    )  # fmt: skip


def plan() -> str:
    """Describe every stage and its cases (what ``run`` would measure), one line each."""
    lines = []
    for stage in STAGES:
        what = f'{stage.amp or "fp32"}, {"compiled" if stage.compile else "eager"}'
        what += ', cudnn.benchmark' * stage.cudnn_benchmark
        what += ', training step + inference' if stage.train else ', inference only'
        lines.append(f'{stage.name}: {what}')
        lines += [f'  {case.name}' for case in cases(stage)]
    return '\n'.join(lines)


def run_stage(stage: Stage, out: Path, budget_s: float, warmup: int, repeats: int) -> Path:
    """Measure a stage's cases in turn, rewriting ``out/<stage>.json`` after each one.

    No case starts after ``budget_s`` seconds; a case that fails (e.g. the Triton kernels
    do not compile) is recorded with its error and the next one runs.

    Returns:
        Path: The JSON file: ``stage`` (its settings) and ``records`` (one per case).
    """
    import torch

    torch.backends.cudnn.benchmark = stage.cudnn_benchmark
    out.mkdir(parents=True, exist_ok=True)
    path = out / f'{stage.name}.json'
    report: dict[str, Any] = dict(stage=asdict(stage), machine=bench.machine_info('cuda'))
    report['records'] = []
    start = time.monotonic()
    for case in cases(stage):
        if time.monotonic() - start > budget_s:
            report['records'].append(dict(asdict(case), skipped='time budget spent'))
            continue
        print(f'[{stage.name}] {case.name}', flush=True)
        try:
            record = bench.run_case(case, settings(stage, warmup, repeats))
        except Exception as error:  # recorded; the other cases still run
            record = dict(asdict(case), error=f'{type(error).__name__}: {error}')
            print(f'  failed: {record["error"]}', flush=True)
        finally:
            torch.cuda.empty_cache()
        report['records'].append(record)
        path.write_text(json.dumps(report, indent=1) + '\n')
    path.write_text(json.dumps(report, indent=1) + '\n')
    return path


def _cell(value: float | None, digits: int = 3) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def table(reports: list[dict[str, Any]]) -> str:
    """One Markdown table of every stage: times, peak memory, ratios to Swin-T and plain SMT-S.

    Args:
        reports (list[dict]): The JSON files of :func:`run_stage`.

    Returns:
        str: The table; failed or skipped cases keep their row with the reason.
    """
    lines = [
        '| stage | size | model | infer s | train s | train GiB | x Swin-T infer / train / '
        'memory | x plain SMT-S infer / train / memory |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for report in reports:
        records = report['records']
        measured = [r for r in records if 'infer' in r]
        models = {r['backbone'] for r in measured}
        pairs = [(m, SWIN) for m in models if m != SWIN]
        pairs += [(m, PLAIN) for m in models if m not in (SWIN, PLAIN)]
        ratios = {
            (q['backbone'], q['baseline'], q['height'], q['width'], q['batch']): q
            for q in bench.pair_ratios(measured, pairs)
        }
        for r in records:
            size = (r['height'], r['width'], r['batch'])
            head = f'| {report["stage"]["name"]} | {size[0]}x{size[1]} b{size[2]} '
            head += f'| {r["backbone"]} '
            if 'infer' not in r:
                lines.append(head + f'| {r.get("error") or r["skipped"]} | - | - | - | - |')
                continue
            train = r.get('train')
            cells = []
            for baseline in (SWIN, PLAIN):
                q = ratios.get((r['backbone'], baseline, *size), {})
                keys = ('infer_time', 'train_time', 'train_memory')
                cells.append(' / '.join(_cell(q.get(k), 2) for k in keys) if q else '-')
            lines.append(
                head + f'| {_cell(r["infer"]["median_s"])} '
                f'| {_cell(train["median_s"] if train else None)} '
                f'| {_cell(train["peak_memory_gb"] if train else None, 2)} | {cells[0]} '
                f'| {cells[1]} |'
            )
    return '\n'.join(lines) + '\n'


def profile(out: Path, model: str = PLAIN, rows: int = 15) -> str:
    """The top CUDA kernels of one bf16 training step of ``model`` at 224x224 b64.

    Returns:
        str: torch.profiler's table (also written to ``out/profile_<model>.txt``).
    """
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    built = bench.CaseModel(bench.BenchmarkCase(model, *SIZES[0]), 'cuda', 'bf16')
    for _ in range(2):
        built.train_step()
    torch.cuda.synchronize()
    with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
        built.train_step()
        torch.cuda.synchronize()
    text = prof.key_averages().table(sort_by='self_cuda_time_total', row_limit=rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'profile_{model}.txt').write_text(text)
    return text


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line: ``plan``, ``run STAGE``, ``profile``, ``table DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('plan', help='print the stages and their cases')
    run = commands.add_parser('run', help='measure one stage')
    run.add_argument('stage', choices=[s.name for s in STAGES])
    run.add_argument('--out', type=Path, required=True)
    run.add_argument('--budget-s', type=float, default=70.0, help='start no case after this')
    run.add_argument('--warmup', type=int, default=2)
    run.add_argument('--repeats', type=int, default=5)
    prof = commands.add_parser('profile', help='top CUDA kernels of a bf16 training step')
    prof.add_argument('--out', type=Path, required=True)
    prof.add_argument('--model', default=PLAIN, choices=ALL_MODELS)
    show = commands.add_parser('table', help='print one table of the stages measured in DIR')
    show.add_argument('dir', type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the command."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    register_variants()
    if args.command == 'plan':
        print(plan())
    elif args.command == 'run':
        stage = stage_by_name(args.stage)
        print(f'wrote {run_stage(stage, args.out, args.budget_s, args.warmup, args.repeats)}')
    elif args.command == 'profile':
        print(profile(args.out, args.model))
    else:
        found = {p.stem: p for p in args.dir.glob('*.json')}
        reports = [json.loads(found[s.name].read_text()) for s in STAGES if s.name in found]
        if not reports:
            raise SystemExit(f'no stage results in {args.dir}')
        print(table(reports))


if __name__ == '__main__':
    main()
