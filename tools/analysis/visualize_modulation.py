"""Draw an SMT model's SAM modulators, per-head MHMC responses and MSA attention over images.

One PNG grid: a row per image, the image then each map overlaid, labelled by block
(``STAGE.BLOCK``, counted from 0) and head. Works for SMT classifiers, detectors and segmentors.

Examples:
    python tools/analysis/visualize_modulation.py configs/detection/mask_rcnn_smt_t_toy.py \
        work_dirs/demo_det/iter_400.pth data/toy_coco/val2017 --num 3 --out-dir work_dirs/modulation
    python tools/analysis/visualize_modulation.py configs/classification/smt_b_in1k_224.py \
        smt_base.pth cat.jpg --size 224x224 --out-dir work_dirs/modulation --per-head-attention
"""

import argparse
import os.path as osp

from smt_mm.apis import build_model
from smt_mm.apis.command_line import (
    add_model_arguments,
    exit_on_user_error,
    parse_size,
    parse_with_verbosity,
    print_outputs,
)
from smt_mm.maps.modulation import AUTO, draw_modulation
from smt_mm.maps.receptive_field import weights_source
from smt_mm.visualization.images import list_images

CHECKPOINT_SUFFIXES = ('.pth', '.pt', '.ckpt')


def _block(text: str) -> str | None:
    return None if text.lower() == 'none' else text


def _point(text: str) -> tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'a point is Y,X in pixels, got {text!r}') from None
    return y, x


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser, checkpoint='none')  # the checkpoint leads the paths
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='[CHECKPOINT] IMAGES',
        help='an optional checkpoint (.pth/.pt/.ckpt: mmengine or official SMT file; without it '
        "the config's init_cfg gives the weights), then image files or folders",
    )
    parser.add_argument('--out-dir', required=True, help='where modulation.png goes')
    parser.add_argument('--num', type=int, help='draw only the first N images')
    parser.add_argument('--size', type=parse_size, metavar='HxW', help='resize the images')
    parser.add_argument(
        '--blocks', nargs='+', default=AUTO, metavar='I.J',
        help='SAM blocks whose modulator to draw (default: the last SAM block of each SAM stage)',
    )  # fmt: skip
    parser.add_argument(
        '--heads-block', type=_block, default=AUTO, metavar='I.J',
        help="the SAM block whose MHMC heads to draw, or 'none' (default: the last of stage 0)",
    )  # fmt: skip
    parser.add_argument(
        '--attention-block', type=_block, default=AUTO, metavar='I.J',
        help="the MSA block whose attention to draw, or 'none' (default: the first MSA block)",
    )  # fmt: skip
    parser.add_argument(
        '--query', type=_point, metavar='Y,X', help='attention query (default: centre)'
    )
    parser.add_argument('--per-head-attention', action='store_true', help='a map per MSA head')
    args = parse_with_verbosity(parser, argv)
    if args.num is not None and args.num < 1:
        parser.error('--num must be positive')
    has_checkpoint = args.paths[0].lower().endswith(CHECKPOINT_SUFFIXES) or '://' in args.paths[0]
    args.checkpoint = args.paths[0] if has_checkpoint else None
    args.images = args.paths[1:] if has_checkpoint else args.paths
    if not args.images:
        parser.error('give at least one image file or folder after the checkpoint')
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    with exit_on_user_error(FileNotFoundError, KeyError, TypeError, ValueError):
        images = list_images(args.images)[: args.num]
        model = build_model(args.config, args.checkpoint, args.cfg_options)
        blocks = None if args.blocks == ['none'] else args.blocks
        name = osp.splitext(osp.basename(args.config))[0]
        heading = f'{name}: {weights_source(model.cfg.model, args.checkpoint)}'
        out_file = draw_modulation(
            model, images, osp.join(args.out_dir, 'modulation.png'), args.size, args.query,
            heading,
            modulators=blocks, heads=args.heads_block, attention=args.attention_block,
            attention_per_head=args.per_head_attention,
        )  # fmt: skip
    print(f'modulation maps of {len(images)} image(s)')
    print_outputs({'picture': out_file})
    return out_file


if __name__ == '__main__':
    main()
