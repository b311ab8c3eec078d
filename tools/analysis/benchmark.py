"""Benchmark SMT against Swin side by side: speed, training step, peak memory, FLOPs.

Examples:
    # the default run: SMT-S/B vs Swin-T/S backbones at 224x224 b16 and 800x1344 b1
    python tools/analysis/benchmark.py --out-dir work_dirs/benchmark --plot
    # full models from configs, each with its Swin twin, at detection resolution
    python tools/analysis/benchmark.py --models --configs configs/detection/X.py \
        --sizes 800x1344x1
    # where does SMT-S spend its time at detection resolution
    python tools/analysis/benchmark.py --models smt-s --sizes 800x1344x1 --profile
"""

import argparse
import json
import sys
from pathlib import Path

from smt_mm.analysis import benchmark as bench
from smt_mm.analysis.benchmark import parse_size


def parse_pair(text: str) -> tuple[str, str]:
    smt, _, swin = text.partition(':')
    if not swin:
        raise argparse.ArgumentTypeError(f'pair must be SMT:SWIN, got {text!r}')
    return smt, swin


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models',
        nargs='*',
        default=['smt-s', 'swin-t', 'smt-b', 'swin-s'],
        choices=sorted(bench.BACKBONES),
        help='backbone-only cases (give the flag alone for none)',
    )
    parser.add_argument(
        '--configs',
        nargs='*',
        default=[],
        help='full-model configs with an SMT backbone; each also runs with its paired Swin',
    )
    parser.add_argument(
        '--sizes',
        nargs='+',
        type=parse_size,
        default=list(bench.DEFAULT_SIZES),
        help='HxWxBATCH (or HxW for batch 1); default 224x224x16 800x1344x1',
    )
    parser.add_argument(
        '--pairs',
        nargs='+',
        type=parse_pair,
        default=list(bench.DEFAULT_PAIRS),
        help='SMT:SWIN pairs of the ratio table; default smt-s:swin-t smt-b:swin-s',
    )
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='measure the whole list of cases this many times, in turn, so that a drifting '
        'machine speed hits SMT and Swin alike (times pooled, ratios listed per round)',
    )
    parser.add_argument('--amp', choices=['fp16', 'bf16'], help='autocast precision')
    parser.add_argument('--threads', type=int, help='torch threads (default: torch default)')
    parser.add_argument('--compile', action='store_true', help='add torch.compile variants')
    parser.add_argument('--no-train', action='store_true', help='skip the training step')
    parser.add_argument('--no-flops', action='store_true', help='skip MAC counting')
    parser.add_argument(
        '--no-isolate', action='store_true', help='run all cases in this process (faster)'
    )
    parser.add_argument(
        '--gemm-size', type=int, help='side of the peak GEMM (default: 2048 CPU, 8192 CUDA)'
    )
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    parser.add_argument('--plot', action='store_true', help='also write benchmark.png')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='profile the first case with torch.profiler instead of benchmarking',
    )
    parser.add_argument('--profile-mode', default='infer', choices=['infer', 'train'])
    parser.add_argument('--profile-rows', type=int, default=25)
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    settings = bench.BenchmarkSettings(
        device=args.device,
        warmup=args.warmup,
        repeats=args.repeats,
        rounds=args.rounds,
        amp=args.amp,
        threads=args.threads,
        train=not args.no_train,
        flops=not args.no_flops,
        isolate=not args.no_isolate,
        gemm_size=args.gemm_size,
    )
    cases = bench.make_cases(args.models, args.configs, args.sizes, args.pairs, args.compile)
    if not cases:
        raise SystemExit('nothing to measure: give --models and/or --configs')
    out_dir = Path(args.out_dir)
    if args.profile:
        result = bench.profile_case(cases[0], settings, args.profile_mode, args.profile_rows)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f'profile_{cases[0].backbone}_{cases[0].height}x{cases[0].width}_{args.profile_mode}'
        (out_dir / f'{stem}.txt').write_text(result['table'])
        (out_dir / f'{stem}.json').write_text(json.dumps(result, indent=2) + '\n')
        print(f'{result["case"]} ({result["mode"]}), {result["total_s"]:.2f} s of operator time')
        print(result['table'])
        for group, share in result['groups'].items():
            print(f'{group:>15}: {100 * share:5.1f}%')
        return
    report = bench.run_benchmark(cases, settings, args.pairs)
    report['command'] = 'python tools/analysis/benchmark.py ' + ' '.join(argv)
    for path in bench.save_report(report, out_dir, plot=args.plot):
        print(f'wrote {path}')
    print(bench.format_markdown(report))


if __name__ == '__main__':
    main()
