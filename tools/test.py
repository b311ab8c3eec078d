"""Test a model of mmdet, mmseg or mmpretrain (the config's ``default_scope`` decides).

Same command line as mmdet's ``tools/test.py``:
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--tta] [--show-dir DIR]
                                           [--out FILE] [--cfg-options KEY=VALUE ...]

The checkpoint must fit the model exactly (``--non-strict`` loads what matches, with warnings);
an empty test set or an evaluation without metrics fails (exit status 1, no JSON written).
The metrics are also written to ``<work_dir>/eval_<timestamp>.json``:
``{"config", "checkpoint", "tta", "scope", "timestamp", "finished", "metrics": {...}}``.
"""

import argparse

from smt_mm.apis import load_config, test_model
from smt_mm.apis.cli import exit_on_user_error, parse_tool_args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a trained model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir for the evaluation metrics (eval_<timestamp>.json) and logs'
    )
    parser.add_argument(
        '--out',
        help='dump the predictions: a .pkl file (mmdet, mmpretrain) or a folder of PNGs (mmseg)',
    )
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='save pictures of the predictions in this folder (relative paths: under the '
        'work dir, in the run timestamp folder for mmdet and mmpretrain)',
    )
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation (tta_model, tta_pipeline)'
    )
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load the checkpoint even if its keys or shapes differ from the model (an '
        'intentional partial load; mismatches are only warned about)',
    )
    return parse_tool_args(parser, argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
        test_model(
            cfg,
            args.checkpoint,
            tta=args.tta,
            show_dir=args.show_dir,
            show=args.show,
            wait_time=args.wait_time,
            out=args.out,
            strict=not args.non_strict,
        )


if __name__ == '__main__':
    main()
