"""The segmentation demo behind `make demo-seg`: toy data -> SMT-T UPerNet on CPU -> ss/ms mIoU.

Usage:
    python tools/demo_seg.py [--work-dir work_dirs/demo_seg] [--data-root data/toy_ade20k]
                             [--max-iters N]
"""

import argparse

from smt_mm.apis.seg_demo import run_segmentation_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo_seg', help='outputs')
    parser.add_argument(
        '--data-root', default='data/toy_ade20k', help='toy dataset (made if absent)'
    )
    parser.add_argument('--max-iters', type=int, help="training iterations (config's if unset)")
    args = parser.parse_args(argv)
    run_segmentation_demo(args.work_dir, args.data_root, args.max_iters)


if __name__ == '__main__':
    main()
