"""Run an exported ONNX file with ONNX Runtime on images, and compare with PyTorch.

The images go through the config's test pipeline and data preprocessor; the outputs through
the model's own post-processing (for a backbone file: the model's heads in PyTorch). With the
checkpoint that was exported, PyTorch predicts the same images and the differences are printed.

Examples:
    python tools/deployment/onnx_inference.py work_dirs/onnx/seg.onnx \
        configs/segmentation/upernet_smt_t_toy.py CKPT --images img1.jpg img2.jpg
    python tools/deployment/onnx_inference.py work_dirs/onnx/det.onnx \
        configs/detection/mask_rcnn_smt_t_toy.py CKPT --images img.jpg --no-compare
"""

import argparse
import sys

from smt_mm.apis import build_model
from smt_mm.apis.command_line import add_model_arguments, exit_on_user_error, parse_with_verbosity
from smt_mm.deployment import (
    TASKS,
    ExportError,
    OnnxModel,
    predict_onnx,
    prepare_inputs,
    verify_onnx,
)
from smt_mm.deployment.runtime import describe_prediction


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('onnx', help='the file written by export_onnx.py')
    add_model_arguments(parser)  # the config and weights it was exported with
    parser.add_argument('--images', nargs='+', required=True, help='image files')
    parser.add_argument(
        '--no-compare', action='store_true', help='ONNX Runtime only, no PyTorch comparison'
    )
    parser.add_argument('--threads', type=int, help='ONNX Runtime intra-op threads')
    return parse_with_verbosity(parser, argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_user_error(ExportError, FileNotFoundError):
        onnx_model = OnnxModel(args.onnx, args.threads)
        model = build_model(args.config, args.checkpoint, args.cfg_options)
        cfg = model.cfg
        task = TASKS[cfg.default_scope]
        if args.no_compare:
            data = prepare_inputs(cfg, model, args.images, onnx_model)
            predictions = predict_onnx(cfg, model, onnx_model, data)
        else:
            result = verify_onnx(cfg, model, onnx_model, args.images)
            predictions = result.predictions
    classes = onnx_model.classes
    for path, sample in zip(args.images, predictions, strict=True):
        print(f'{path}: {describe_prediction(task, sample, classes)}')
    if not args.no_compare:
        print(result.summary())
        if result.agreement is not None and not result.agreement.same:
            sys.exit(1)


if __name__ == '__main__':
    main()
