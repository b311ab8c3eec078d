"""Train a model of mmdet, mmseg or mmpretrain (the config's ``default_scope`` decides).

Same command line as mmdet's ``tools/train.py``:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options KEY=VALUE ...] [--launcher pytorch]
"""

import argparse

from smt_mm.apis import load_config, prepare_train_config, train_model
from smt_mm.apis.cli import exit_on_config_path_error, parse_tool_args


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector, segmentor or classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision (needs a GPU)'
    )
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale the lr by the actual batch size'
    )
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the latest checkpoint in '
        'the work dir',
    )
    return parse_tool_args(parser, argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with exit_on_config_path_error():
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
        prepare_train_config(cfg, args.amp, args.resume, args.auto_scale_lr)
        train_model(cfg)


if __name__ == '__main__':
    main()
