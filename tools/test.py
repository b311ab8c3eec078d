"""Test a model of mmdet, mmseg or mmpretrain (the config's ``default_scope`` decides).

Same command line as mmdet's ``tools/test.py``:
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--tta] [--show-dir DIR]
                                           [--out FILE] [--cfg-options KEY=VALUE ...]

The checkpoint must fit the model exactly (``--non-strict`` loads what matches, with warnings);
an empty test set or an evaluation without metrics fails (exit status 1, no JSON written).
The metrics are also written to ``<work_dir>/eval_<timestamp>.json``:
``{"config", "checkpoint", "tta", "scope", "timestamp", "finished", "metrics": {...},
"outputs": {...}}``; the last lines name it, the log and, with ``--show-dir`` / ``--out``, the
folder of the pictures and the predictions.
"""

import argparse
import json

from smt_mm.apis import test_model
from smt_mm.apis.command_line import (
    add_model_arguments,
    exit_on_user_error,
    keyword_options,
    parse_tool_args,
    print_outputs,
)
from smt_mm.config import load_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a trained model')
    add_model_arguments(parser, checkpoint='required')
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
        help='save pictures of the predictions in this folder (a relative one is relative to '
        'the work dir; mmseg saves into its vis_data/vis_image subfolder)',
    )
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation (tta_model, tta_pipeline)'
    )
    parser.add_argument(
        '--non-strict',
        action='store_false',
        dest='strict',
        help='load the checkpoint even if its keys or shapes differ from the model (an '
        'intentional partial load; mismatches are only warned about)',
    )
    return parse_tool_args(parser, argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
        options = keyword_options(args, 'tta', 'show_dir', 'show', 'wait_time', 'out', 'strict')
        _, path = test_model(cfg, args.checkpoint, **options)
    if path is not None:  # rank 0
        with open(path) as f:
            print_outputs({'metrics': path, **json.load(f)['outputs']})


if __name__ == '__main__':
    main()
