"""Measure the memory of a training run over its iterations: the training process and its workers.

Trains CONFIG in this process for --iters iterations (an iteration-based loop without
validation; the config's learning-rate schedule, which stays at its last rate past its end) and
samples the RSS of the process and of each data-loader worker every --interval iterations.
Writes <out-dir>/memory_samples.jsonl, memory_summary.json (growth per 100 iterations over each
half of the run) and the curve (--plot, default <out-dir>/memory.png).

Example:
    python tools/toy_data.py coco data/toy_coco
    python tools/analysis/benchmark_memory.py configs/detection/mask_rcnn_smt_t_toy.py \
        --iters 1000 --interval 10 --plot docs/memory_toy_training.png
"""

import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

from smt_mm.apis.command_line import add_model_arguments
from smt_mm.benchmark import memory
from smt_mm.config import load_config


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_arguments(parser, checkpoint='none')
    parser.add_argument('--iters', type=int, default=1000, help='training iterations')
    parser.add_argument('--interval', type=int, default=10, help='iterations between samples')
    parser.add_argument('--work-dir', help="the run's work dir (default: <out-dir>/train)")
    parser.add_argument('--out-dir', default='work_dirs/benchmark_memory')
    parser.add_argument('--plot', help='the picture (default: <out-dir>/memory.png)')
    parser.add_argument('--title', help="the picture's title (default: the config and iters)")
    args = parser.parse_args(argv)
    if args.iters < 1 or args.interval < 1:
        parser.error('--iters and --interval must be >= 1')
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    work_dir = args.work_dir or osp.join(args.out_dir, 'train')
    cfg = load_config(args.config, args.cfg_options, work_dir)
    samples_file = osp.join(args.out_dir, 'memory_samples.jsonl')
    started = time.strftime('%Y-%m-%d %H:%M:%S %Z')
    samples = memory.measure_training_memory(cfg, samples_file, args.iters, args.interval)
    summary = dict(
        command='python tools/analysis/benchmark_memory.py ' + ' '.join(argv),
        started=started,
        machine=f'{platform.node()} {platform.processor() or platform.machine()}, '
        f'{os.cpu_count()} CPUs',
        **memory.summarize_memory(samples),
    )
    os.makedirs(args.out_dir, exist_ok=True)
    summary_file = osp.join(args.out_dir, 'memory_summary.json')
    with open(summary_file, 'w') as f:
        json.dump(summary, f, indent=2)
    title = args.title or f'{osp.basename(args.config)}: memory over {args.iters} iterations'
    plot = memory.plot_memory(samples, args.plot or osp.join(args.out_dir, 'memory.png'), title)
    for path in (samples_file, summary_file, plot):
        print(f'wrote {path}')
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
