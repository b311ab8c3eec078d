"""Train a model of mmdet, mmseg or mmpretrain (the config's ``default_scope`` decides).

Same command line as mmdet's ``tools/train.py``:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options KEY=VALUE ...] [--launcher pytorch]
"""

import argparse
import os
import sys

from mmengine.config import DictAction

from smt_mm.apis import LAUNCHERS, ConfigPathError, load_config, train_model


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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.backbone.init_cfg.checkpoint=PATH; '
        'lists as key="[a,b]" or key=a,b, nesting allowed, no white space in values',
    )
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
        train_model(cfg, amp=args.amp, resume=args.resume, auto_scale_lr=args.auto_scale_lr)
    except ConfigPathError as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
