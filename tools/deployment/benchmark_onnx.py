"""ONNX Runtime against PyTorch on the CPU, side by side in one run (docs/deployment.md).

Examples:
    # SMT-S / SMT-B backbones at detection resolution
    python tools/deployment/benchmark_onnx.py --models smt-s smt-b --sizes 800x1344
    # the toy models: the whole classifier and UPerNet, Mask R-CNN's backbone + FPN
    python tools/deployment/benchmark_onnx.py --models \
        --configs configs/classification/smt_t_toy.py@32x32x16 \
        configs/segmentation/upernet_smt_t_toy.py configs/detection/mask_rcnn_smt_t_toy.py
"""

import argparse
import json
import os
import sys

from smt_mm.apis.command_line import parse_size, parse_with_verbosity, print_outputs
from smt_mm.benchmark import BACKBONES, BenchmarkSettings
from smt_mm.benchmark.onnx_runtime import SpeedCase, format_onnx_markdown, run_onnx_benchmark
from smt_mm.config import load_config
from smt_mm.deployment import EXPORTERS, TASKS, default_shape

SMT_BACKBONES = sorted(name for name, cfg in BACKBONES.items() if cfg['type'] == 'SMT')


def config_case(text: str) -> SpeedCase:
    """``CONFIG[@HxW[xBATCH]]``: the whole model, or the backbone + neck of a detector."""
    config, _, size = text.partition('@')
    cfg = load_config(config)
    task = TASKS[cfg.default_scope]
    height, width, batch = parse_size(size) if size else (*default_shape(cfg, task), 1)
    what = 'backbone' if task == 'detection' else 'model'
    return SpeedCase(config, height, width, batch, what)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models',
        nargs='*',
        default=['smt-s', 'smt-b'],
        choices=SMT_BACKBONES,
        help='SMT backbones of the benchmark (give the flag alone for none)',
    )
    parser.add_argument(
        '--sizes', nargs='+', type=parse_size, default=[(800, 1344, 1)], help='HxW[xBATCH]'
    )
    parser.add_argument(
        '--configs',
        nargs='*',
        default=[],
        help="CONFIG[@HxW[xBATCH]]: the whole classifier or segmentor, a detector's backbone "
        "+ neck (size: the config's test size by default)",
    )
    parser.add_argument('--exporter', choices=EXPORTERS, default='auto')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--threads', type=int, help='torch and ONNX Runtime threads')
    parser.add_argument('--out-dir', default='work_dirs/benchmark_onnx')
    return parse_with_verbosity(parser, argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    cases = [SpeedCase(m, h, w, b) for h, w, b in args.sizes for m in args.models]
    cases += [config_case(text) for text in args.configs]
    if not cases:
        raise SystemExit('nothing to measure: give --models and/or --configs')
    settings = BenchmarkSettings(
        warmup=args.warmup,
        repeats=args.repeats,
        rounds=args.rounds,
        threads=args.threads,
        train=False,
        flops=False,
        isolate=False,
    )
    os.makedirs(args.out_dir, exist_ok=True)
    report = run_onnx_benchmark(cases, settings, args.out_dir, args.exporter)
    report['command'] = 'python tools/deployment/benchmark_onnx.py ' + ' '.join(argv)
    markdown = format_onnx_markdown(report)
    outputs = {
        name: os.path.join(args.out_dir, f'benchmark_onnx.{name}') for name in ('json', 'md')
    }
    with open(outputs['json'], 'w') as f:
        json.dump(report, f, indent=2)
    with open(outputs['md'], 'w') as f:
        f.write(markdown)
    print(markdown)
    print_outputs({'report': outputs['json'], 'table': outputs['md'], 'ONNX files': args.out_dir})


if __name__ == '__main__':
    main()
