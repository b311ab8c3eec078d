"""The command-line parts that ``tools/train.py`` and ``tools/test.py`` share."""

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from mmengine.config import DictAction

from .checks import ConfigPathError
from .runner import LAUNCHERS


def parse_tool_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add the options every tool has, parse the command line and export ``LOCAL_RANK``.

    The options: ``--cfg-options KEY=VALUE ...``, ``--launcher`` and the ``--local-rank`` that
    ``torch.distributed.launch`` passes.

    Args:
        parser (argparse.ArgumentParser): The tool's parser with its own options.
        argv (list[str], optional): The arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
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
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


@contextlib.contextmanager
def exit_on_config_path_error() -> Iterator[None]:
    """Turn a :class:`ConfigPathError` into ``error: ...`` on stderr and exit status 1."""
    try:
        yield
    except ConfigPathError as err:
        sys.exit(f'error: {err}')
