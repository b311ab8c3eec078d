"""The detection demo behind `make demo`: toy data -> train SMT-T Mask R-CNN on CPU -> evaluate.

Usage:
    python tools/demo.py [--work-dir work_dirs/demo_det] [--data-root data/toy_coco]
                         [--max-iters N]
"""

import argparse

from smt_mm.apis.demo import run_detection_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo_det', help='outputs')
    parser.add_argument('--data-root', default='data/toy_coco', help='toy dataset (made if absent)')
    parser.add_argument('--max-iters', type=int, help="training iterations (config's if unset)")
    args = parser.parse_args(argv)
    run_detection_demo(args.work_dir, args.data_root, args.max_iters)


if __name__ == '__main__':
    main()
