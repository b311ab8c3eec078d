"""The demos behind `make demo` and `make demo-seg`: toy data -> train SMT-T on the CPU -> evaluate.

Usage:
    python tools/demo.py [detection|segmentation] [--work-dir DIR] [--data-root DIR]
                         [--max-iters N] [--verbose]
"""

import argparse
import os.path as osp

from smt_mm.apis.command_line import parse_with_verbosity
from smt_mm.demo import DEMO_TASKS, run_demo

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
TOY_CONFIGS = {
    'detection': osp.join(CONFIGS, 'detection', 'mask_rcnn_smt_t_toy.py'),
    'segmentation': osp.join(CONFIGS, 'segmentation', 'upernet_smt_t_toy.py'),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'task', nargs='?', default='detection', choices=list(DEMO_TASKS), help='default detection'
    )
    parser.add_argument('--work-dir', help='outputs (work_dirs/demo_det or work_dirs/demo_seg)')
    parser.add_argument(
        '--data-root', help='toy dataset, made if absent (data/toy_coco or data/toy_ade20k)'
    )
    parser.add_argument('--max-iters', type=int, help="training iterations (config's if unset)")
    args = parse_with_verbosity(parser, argv)
    run_demo(args.task, TOY_CONFIGS[args.task], args.work_dir, args.data_root, args.max_iters)


if __name__ == '__main__':
    main()
