"""Train a model of mmdet, mmseg or mmpretrain (the config's ``default_scope`` decides).

Same command line as mmdet's ``tools/train.py``:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT] | --auto-resume] [--amp]
                                 [--save-on-sigterm] [--non-strict] [--cfg-options KEY=VALUE ...]
                                 [--launcher pytorch]

Errors that say what to fix (an unknown ``--cfg-options`` key, nothing to resume, a locked work
dir, a diverged loss, a full disk, ...) are printed as ``error: ...`` with exit status 1; SIGTERM
and SIGINT stop the run with ``error: training stopped by ...`` naming the checkpoint to resume
from and exit status 143 / 130. The console leaves out mmengine's per-parameter and config dumps
(``--verbose`` shows them; the log file has them). The last lines name the last checkpoint, the
log file and the scalars file.
"""

import argparse

from mmengine.dist import get_rank

from smt_mm.apis import prepare_train_config, train_model, training_outputs
from smt_mm.apis.command_line import (
    add_model_arguments,
    exit_on_user_error,
    parse_tool_args,
    print_outputs,
)
from smt_mm.config import load_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector, segmentor or classifier')
    add_model_arguments(parser, checkpoint='none')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision (needs a GPU)'
    )
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale the lr by the actual batch size'
    )
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the newest intact checkpoint '
        'in the work dir (fails when there is none)',
    )
    resume.add_argument(
        '--auto-resume',
        action='store_true',
        help='resume from the newest intact checkpoint in the work dir if there is one, else '
        'start from scratch (for jobs that are restarted)',
    )
    parser.add_argument(
        '--save-on-sigterm',
        action='store_true',
        help='on SIGTERM (Slurm preemption, scancel, kill), save a checkpoint after the '
        'iteration in progress, then stop (default: stop at once)',
    )
    parser.add_argument(
        '--non-strict',
        action='store_false',
        dest='strict',
        help='load_from: load the matching part of a checkpoint whose keys or shapes differ '
        'from the model (fine-tuning with other heads; mismatches are only warned about); a '
        'resumed checkpoint must always fit',
    )
    return parse_tool_args(parser, argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    resume = 'auto' if args.auto_resume else args.resume
    with exit_on_user_error():
        cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
        prepare_train_config(
            cfg,
            args.amp,
            resume,
            args.auto_scale_lr,
            start_fresh_if_none=args.auto_resume,
            save_on_sigterm=args.save_on_sigterm,
        )
        runner = train_model(cfg, strict=args.strict)
    if get_rank() == 0:
        print_outputs(training_outputs(runner))


if __name__ == '__main__':
    main()
