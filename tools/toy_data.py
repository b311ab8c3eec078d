"""Generate the toy datasets (deterministic, nothing is downloaded).

Usage:
    python tools/toy_data.py coco data/toy_coco [--num-train 200] [--num-val 50] [--size 128]
                                             [--textured]
    python tools/toy_data.py ade20k data/toy_ade20k [--num-train 200] [--num-val 50] [--size 128]
                                                [--textured] [--shape-only]
    python tools/toy_data.py imagenet data/toy_imagenet [--num-train 150] [--num-val 25] [--size 32]

Every dataset is one sub-command with the options of :func:`add_dataset_parser` and its own
``--size``.
"""

import argparse
from collections.abc import Callable

from smt_mm.apis.command_line import parse_size
from smt_mm.toydata import (
    DEFAULT_CATEGORIES,
    ade20k_classes,
    generate_ade20k,
    generate_coco,
    generate_imagenet,
)


def parse_image_size(text: str) -> dict[str, int]:
    """'320' -> height and width 320; 'HxW' -> height H, width W (keyword arguments)."""
    height, width, batch = parse_size(text if 'x' in text else f'{text}x{text}')
    if batch != 1:
        raise argparse.ArgumentTypeError(f'size must be N or HxW, got {text!r}')
    if min(height, width) < 32:
        raise argparse.ArgumentTypeError(f'images must be at least 32 px a side, got {text!r}')
    return dict(height=height, width=width)


def parse_side(text: str) -> dict[str, int]:
    """'32' -> square images of side 32 (keyword argument ``size``)."""
    try:
        return dict(size=int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must be an integer, got {text!r}') from None


def add_dataset_parser(
    subparsers: argparse._SubParsersAction,
    name: str,
    generate: Callable[..., dict[str, str]],
    description: str,
    sizes: tuple[int, int, str],
) -> argparse.ArgumentParser:
    """Register one dataset's sub-command with the options every dataset has.

    ``sizes`` is the default training and validation image counts and what they count.
    """
    parser = subparsers.add_parser(name, help=description)
    parser.add_argument('out_dir', help='dataset root')
    parser.add_argument('--num-train', type=int, default=sizes[0], help=f'training {sizes[2]}')
    parser.add_argument('--num-val', type=int, default=sizes[1], help=f'validation {sizes[2]}')
    parser.add_argument('--textured', action='store_true', help='textured backgrounds (harder)')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument('--categories', nargs='+', default=list(DEFAULT_CATEGORIES), help='shapes')
    parser.set_defaults(generate=generate, dataset_options={})
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    subparsers = parser.add_subparsers(dest='dataset', required=True)
    coco = add_dataset_parser(
        subparsers, 'coco', generate_coco,
        'COCO-format instance segmentation (mmdet CocoDataset / CocoMetric)', (200, 50, 'images'),
    )  # fmt: skip
    coco.add_argument('--size', type=parse_image_size, default='128', help='N or HxW pixels')
    ade20k = add_dataset_parser(
        subparsers, 'ade20k', generate_ade20k,
        'ADE20K-layout semantic segmentation (mmseg datasets / IoUMetric)', (200, 50, 'images'),
    )  # fmt: skip
    ade20k.add_argument('--size', type=parse_image_size, default='128', help='N or HxW pixels')
    ade20k.add_argument(
        '--shape-only',
        action='store_const',
        dest='dataset_options',
        const=dict(class_colors=False),
        help='random shape colours: only the outline tells the classes apart (much harder)',
    )
    imagenet = add_dataset_parser(
        subparsers, 'imagenet', generate_imagenet,
        'ImageNet-layout classification (mmpretrain ImageNet / CustomDataset)',
        (150, 25, 'images per class'),
    )  # fmt: skip
    imagenet.add_argument('--size', type=parse_side, default='32', help='image side (>= 16)')
    args = parser.parse_args(argv)
    written = args.generate(
        args.out_dir, args.num_train, args.num_val, seed=args.seed, categories=args.categories,
        textured=args.textured, **args.size, **args.dataset_options,
    )  # fmt: skip
    for split, path in written.items():
        print(f'{split}: {path}')
    if args.dataset == 'ade20k':
        print(f'classes (after reduce_zero_label): {ade20k_classes(args.categories)}')


if __name__ == '__main__':
    main()
