"""Benchmark SMT against Swin side by side: inference, training step, peak memory, MACs.

Examples:
    # the default run: SMT-S/B vs Swin-T/S backbones at 224x224 b16 and 800x1344 b1
    python tools/analysis/benchmark.py --out-dir work_dirs/benchmark
    # SMT-S's fused path against its plain PyTorch path
    python tools/analysis/benchmark.py --models smt-s-fused smt-s-plain --sizes 224x224x16
    # full models from configs, each with its Swin twin, at detection resolution
    python tools/analysis/benchmark.py --models --configs configs/detection/X.py \
        --sizes 800x1344x1
"""

import argparse
import dataclasses
import sys

from smt_mm import benchmark as bench
from smt_mm.apis.command_line import (
    keyword_options,
    parse_size,
    parse_with_verbosity,
    print_outputs,
)


def parse_pair(text: str) -> tuple[str, str]:
    model, _, baseline = text.partition(':')
    if model not in bench.BACKBONES or baseline not in bench.BACKBONES:
        raise argparse.ArgumentTypeError(
            f'pair must be MODEL:BASELINE (backbone names), got {text!r}'
        )
    return model, baseline


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models',
        nargs='*',
        default=['smt-s', 'swin-t', 'smt-b', 'swin-s'],
        choices=sorted(bench.BACKBONES),
        help='backbone-only cases; smt-X-fused / -plain force fused=True / False (give the flag '
        'alone for none)',
    )
    parser.add_argument(
        '--configs', nargs='*', default=[], help='full-model configs (each with its baseline)'
    )
    sizes = ' '.join('x'.join(map(str, size)) for size in bench.DEFAULT_SIZES)
    parser.add_argument(
        '--sizes', nargs='+', type=parse_size, help=f'HxW[xBATCH] (default: {sizes})'
    )
    parser.add_argument(
        '--pairs',
        nargs='+',
        type=parse_pair,
        default=list(bench.DEFAULT_PAIRS),
        help='MODEL:BASELINE pairs of the ratio table; default smt-s:swin-t smt-b:swin-s '
        '(smt-X-fused / smt-X-plain is always compared)',
    )
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--amp', choices=['fp16', 'bf16'], help='autocast precision')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='measure the whole list of cases this many times, in turn (times pooled, ratios '
        'also listed per round)',
    )
    parser.add_argument('--threads', type=int, help='torch threads (default: torch default)')
    parser.add_argument('--compile', action='store_true', help='torch.compile every backbone')
    parser.add_argument(
        '--no-train', action='store_false', dest='train', help='skip the training step'
    )
    parser.add_argument('--no-flops', action='store_false', dest='flops', help='skip MAC counting')
    parser.add_argument(
        '--no-isolate',
        action='store_false',
        dest='isolate',
        help='run all cases in this process (faster)',
    )
    parser.add_argument('--out-dir', default='work_dirs/benchmark')
    return parse_with_verbosity(parser, argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    names = [field.name for field in dataclasses.fields(bench.BenchmarkSettings)]
    settings = bench.BenchmarkSettings(**keyword_options(args, *names))
    sizes = args.sizes or bench.DEFAULT_SIZES
    cases = bench.make_cases(args.models, args.configs, sizes, args.pairs)
    if not cases:
        raise SystemExit('nothing to measure: give --models and/or --configs')
    report = bench.run_benchmark(cases, settings, args.pairs)
    report['command'] = 'python tools/analysis/benchmark.py ' + ' '.join(argv)
    report_file, table_file = bench.save_report(report, args.out_dir)
    print(bench.format_markdown(report))
    print_outputs({'report': str(report_file), 'table': str(table_file)})


if __name__ == '__main__':
    main()
