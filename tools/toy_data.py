"""Generate the toy datasets (deterministic, nothing is downloaded).

Usage:
    python tools/toy_data.py coco data/toy_coco [--num-train 200] [--num-val 50] [--size 128]
                                             [--textured]
    python tools/toy_data.py ade20k data/toy_ade20k [--num-train 200] [--num-val 50] [--size 128]
                                                [--textured] [--shape-only]
    python tools/toy_data.py imagenet data/toy_imagenet [--num-train 150] [--num-val 25] [--size 32]

Every dataset is one sub-command; each ``add_<name>_parser`` function below registers one.
"""

import argparse

from smt_mm.toydata import (
    DEFAULT_CATEGORIES,
    ade20k_classes,
    generate_ade20k,
    generate_coco,
    generate_imagenet,
)


def parse_size(text: str) -> tuple[int, int]:
    """'320' -> (320, 320); 'WxH' -> (H, W)."""
    try:
        if 'x' in text:
            width, height = (int(v) for v in text.lower().split('x'))
        else:
            width = height = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must be N or WxH, got {text!r}') from None
    if min(width, height) < 32:
        raise argparse.ArgumentTypeError(f'images must be at least 32 px a side, got {text!r}')
    return height, width


def run_coco(args: argparse.Namespace) -> None:
    split_sizes = (args.num_train, args.num_val)
    written = generate_coco(
        args.out_dir, *split_sizes, *args.size, args.seed, args.categories, textured=args.textured
    )
    for split, ann_file in written.items():
        print(f'{split}: {ann_file}')


def add_coco_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        'coco', help='COCO-format instance segmentation (mmdet CocoDataset / CocoMetric)'
    )
    parser.add_argument('out_dir', help='dataset root (annotations/, train2017/, val2017/)')
    parser.add_argument('--num-train', type=int, default=200, help='training images')
    parser.add_argument('--num-val', type=int, default=50, help='validation images')
    parser.add_argument('--size', type=parse_size, default=(128, 128), help='N or WxH pixels')
    parser.add_argument(
        '--textured', action='store_true', help='textured backgrounds (a harder task)'
    )
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--categories', nargs='+', default=list(DEFAULT_CATEGORIES), help='shape categories'
    )
    parser.set_defaults(func=run_coco)


def run_imagenet(args: argparse.Namespace) -> None:
    written = generate_imagenet(
        args.out_dir,
        args.num_train,
        args.num_val,
        args.size,
        args.seed,
        args.categories,
        args.textured,
    )
    for split, path in written.items():
        print(f'{split}: {path}')


def add_imagenet_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        'imagenet', help='ImageNet-layout classification (mmpretrain ImageNet / CustomDataset)'
    )
    parser.add_argument('out_dir', help='dataset root (meta/, train/, val/)')
    parser.add_argument('--num-train', type=int, default=150, help='training images per class')
    parser.add_argument('--num-val', type=int, default=25, help='validation images per class')
    parser.add_argument('--size', type=int, default=32, help='image side in pixels (>= 16)')
    parser.add_argument(
        '--textured', action='store_true', help='textured backgrounds (a harder task)'
    )
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--categories', nargs='+', default=list(DEFAULT_CATEGORIES), help='shape classes'
    )
    parser.set_defaults(func=run_imagenet)


def run_ade20k(args: argparse.Namespace) -> None:
    split_sizes = (args.num_train, args.num_val)
    written = generate_ade20k(
        args.out_dir, *split_sizes, *args.size, args.seed, args.categories, args.textured,
        class_colors=not args.shape_only,
    )  # fmt: skip
    for split, ann_dir in written.items():
        print(f'{split}: {ann_dir}')
    print(f'classes (after reduce_zero_label): {ade20k_classes(args.categories)}')


def add_ade20k_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        'ade20k', help='ADE20K-layout semantic segmentation (mmseg datasets / IoUMetric)'
    )
    parser.add_argument('out_dir', help='dataset root (images/, annotations/)')
    parser.add_argument('--num-train', type=int, default=200, help='training images')
    parser.add_argument('--num-val', type=int, default=50, help='validation images')
    parser.add_argument('--size', type=parse_size, default=(128, 128), help='N or WxH pixels')
    parser.add_argument(
        '--textured', action='store_true', help='textured backgrounds (a harder task)'
    )
    parser.add_argument(
        '--shape-only',
        action='store_true',
        help='random shape colours: only the outline tells the classes apart (much harder)',
    )
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--categories', nargs='+', default=list(DEFAULT_CATEGORIES), help='shape categories'
    )
    parser.set_defaults(func=run_ade20k)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    subparsers = parser.add_subparsers(dest='dataset', required=True)
    add_coco_parser(subparsers)
    add_ade20k_parser(subparsers)
    add_imagenet_parser(subparsers)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == '__main__':
    main()
