"""Say what a checkpoint file is and, given a config, how its keys fit the config's model.

Examples:
    python tools/analysis/check_checkpoint.py smt_small.pth
    python tools/analysis/check_checkpoint.py mask_rcnn_smt_s_official.pth \
        configs/detection/mask_rcnn_smt_s_1x.py

The verdict names the format (official SMT classification / detection / segmentation
checkpoint, smt_mm checkpoint, another backbone's mmdet / mmseg / mmpretrain checkpoint, or no
checkpoint at all: empty, web page, Git LFS pointer, truncated ...), the SMT arch, the heads,
layer scale, EMA and optimizer state. With a config, it lists the keys that would be missing,
unexpected or of the wrong shape after the conversion that loading applies. Exit status: 0 when
the file is a checkpoint (and fits the config, if one is given), 1 otherwise.
"""

import argparse
import sys

import smt_mm  # noqa: F401  (registers SMT and the safe loader)
from smt_mm.apis import build_model
from smt_mm.apis.command_line import add_cfg_options_argument, parse_with_verbosity
from smt_mm.models.checkpoint import compare_with_model, inspect_checkpoint

#: The config's own pretrained backbone file is not needed to list the model's keys.
NO_PRETRAINED = {'model.backbone.init_cfg': None}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='the file to check')
    parser.add_argument('config', nargs='?', help='a config whose model should load it')
    add_cfg_options_argument(parser)
    parser.add_argument(
        '--max-keys', type=int, default=50, help='list at most this many keys of each kind'
    )
    return parse_with_verbosity(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = inspect_checkpoint(args.checkpoint)
    print(report.format())
    if not report.is_checkpoint:
        return 1
    if args.config is None:
        return 0
    diff = compare_with_model(
        report, build_model(args.config, cfg_options={**(args.cfg_options or {}), **NO_PRETRAINED})
    )
    print(f'against {args.config}, {diff["target"][0]}:')
    problems = 0
    for name in ('missing', 'unexpected', 'shape mismatch'):
        keys = diff[name]
        problems += len(keys)
        print(f'  {name}: {len(keys)}')
        for key in keys[: args.max_keys]:
            print(f'    {key}')
        if len(keys) > args.max_keys:
            print(f'    ... and {len(keys) - args.max_keys} more')
    print('  verdict: ' + ('loads strictly' if problems == 0 else 'does NOT load strictly'))
    return int(problems > 0)


if __name__ == '__main__':
    sys.exit(main())
