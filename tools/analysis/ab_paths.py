"""Time SMT's optimised code paths against their plain-PyTorch equivalents, in one process.

Examples:
    # the training step of SMT-B at detection resolution, every path
    python tools/analysis/ab_paths.py --arch base --size 800x1344x1 --mode train --steps 2
    # inference of SMT-S at 224x224 batch 16, the in-place GELU only
    python tools/analysis/ab_paths.py --arch small --size 224x224x16 --paths inplace-gelu
"""

import argparse
import json
import sys

import torch

from smt_mm.analysis import PLAIN_PATHS, compare_paths
from smt_mm.analysis.benchmark import parse_size


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='small', help='SMT arch (tiny, small, base, large)')
    parser.add_argument('--size', type=parse_size, default=(800, 1344, 1), help='HxW[xBATCH]')
    parser.add_argument('--mode', choices=['infer', 'train'], default='infer')
    parser.add_argument('--steps', type=int, default=3, help='timed steps per variant')
    parser.add_argument('--paths', nargs='+', choices=list(PLAIN_PATHS), default=list(PLAIN_PATHS))
    parser.add_argument('--threads', type=int, help='torch threads (default: torch default)')
    parser.add_argument('--json', help='also write the results to this file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    height, width, batch = args.size
    results = compare_paths(
        args.arch, height, width, batch, args.mode == 'train', args.steps, args.paths
    )
    threads = torch.get_num_threads()
    print(f'SMT {args.arch}, {height}x{width} b{batch}, {args.mode}, {threads} threads')
    print('| path | optimised s (best) | plain s (best) | optimised / plain | max abs diff |')
    print('|---|---|---|---|---|')
    for r in results:
        print(
            f'| {r["path"]} | {min(r["optimised_s"]):.3f} | {min(r["plain_s"]):.3f} '
            f'| {r["ratio"]:.3f} | {r["max_abs_diff"]:.1e} |'
        )
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
