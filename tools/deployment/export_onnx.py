"""Export a classifier, segmentor or detector (backbone + neck) of a config to ONNX.

Examples:
    # the whole classifier, then a check against PyTorch on two images
    python tools/deployment/export_onnx.py configs/classification/smt_t_toy.py CKPT \
        --out work_dirs/onnx/cls.onnx --shape 32 32 --verify --images a.jpg b.jpg
    # the whole UPerNet at a fixed size (its data preprocessor's size by default)
    python tools/deployment/export_onnx.py configs/segmentation/upernet_smt_t_toy.py CKPT \
        --out work_dirs/onnx/seg.onnx --verify
    # a detector's backbone + FPN, any batch, height and width
    python tools/deployment/export_onnx.py configs/detection/mask_rcnn_smt_t_toy.py CKPT \
        --out work_dirs/onnx/det.onnx --what backbone --dynamic --verify
"""

import argparse

from smt_mm.apis import build_model
from smt_mm.apis.command_line import (
    add_model_arguments,
    exit_on_user_error,
    keyword_options,
    parse_size,
    parse_with_verbosity,
    print_outputs,
)
from smt_mm.deployment import (
    DEFAULT_OPSET,
    EXPORT_PARTS,
    EXPORTERS,
    ExportError,
    OnnxModel,
    describe,
    export_onnx,
    verify_onnx,
)


def parse_shape(values: list[str]) -> tuple[int, int]:
    """``H W`` or ``HxW`` -> (height, width); the batch size is always dynamic."""
    text = 'x'.join(values) if len(values) == 2 else values[0]
    height, width, batch = parse_size(text)
    if len(values) > 2 or batch != 1 or text.count('x') != 1:
        raise argparse.ArgumentTypeError(
            f'--shape takes H W or HxW (any batch size runs), got {" ".join(values)!r}'
        )
    return height, width


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_arguments(parser)
    parser.add_argument('--out', required=True, help='the ONNX file to write')
    parser.add_argument(
        '--shape',
        nargs='+',
        metavar='SIZE',
        help="input height and width: H W or HxW (default: the config's test size)",
    )
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='dynamic height and width (the batch is always dynamic)',
    )
    parser.add_argument(
        '--what',
        choices=EXPORT_PARTS,
        default='model',
        help='the whole model, or the backbone + neck (default: model)',
    )
    parser.add_argument(
        '--exporter',
        choices=EXPORTERS,
        default='auto',
        help='auto (default): dynamo where this torch has it (2.5+), TorchScript otherwise',
    )
    parser.add_argument(
        '--opset',
        type=int,
        help=f'ONNX opset (default: {DEFAULT_OPSET}, or the newest the TorchScript exporter '
        'of this torch writes, 17 on torch 2.1)',
    )
    parser.add_argument(
        '--verify',
        action='store_true',
        help='run the file with ONNX Runtime and compare with PyTorch (on --images if given)',
    )
    parser.add_argument('--images', nargs='+', default=[], help='images for --verify')
    args = parse_with_verbosity(parser, argv)
    if args.shape is not None:
        try:
            args.shape = parse_shape(args.shape)
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    if args.images and not args.verify:
        parser.error('--images are for --verify')
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_user_error(ExportError, FileNotFoundError):
        names = ('checkpoint', 'shape', 'dynamic', 'what', 'exporter', 'opset', 'cfg_options')
        result = export_onnx(args.config, args.out, **keyword_options(args, *names))
        print(describe(result))
        if args.verify:
            model = build_model(args.config, args.checkpoint, args.cfg_options)
            print(verify_onnx(model.cfg, model, OnnxModel(args.out), args.images).summary())
            print_outputs({'ONNX model': args.out})  # after the check, the path once more


if __name__ == '__main__':
    main()
