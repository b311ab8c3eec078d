"""The command-line parts that ``tools/train.py`` and ``tools/test.py`` share."""

import argparse
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator

from mmengine.config import DictAction

from ..engine import CheckpointMismatchError, RunError
from .checks import ConfigCheckError, ConfigPathError
from .runner import LAUNCHERS

#: The errors whose message is all a user needs: printed as ``error: ...``, exit status 1.
USER_ERRORS = (ConfigPathError, ConfigCheckError, CheckpointMismatchError, RunError)
_PR_SET_PDEATHSIG = 1


def exit_with_launcher() -> None:
    """End this process when its parent (the ``torchrun`` launcher) dies, even by SIGKILL.

    A worker whose launcher was killed would otherwise wait in a collective for the other
    ranks until the distributed timeout, holding its memory and data-loader workers. Linux
    only (``prctl(PR_SET_PDEATHSIG)``); elsewhere the distributed timeout bounds the wait.
    """
    if not sys.platform.startswith('linux'):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the launcher died before the request was registered
        os.kill(os.getpid(), signal.SIGTERM)


def parse_tool_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add the options every tool has, parse the command line and export ``LOCAL_RANK``.

    The options: ``--cfg-options KEY=VALUE ...``, ``--launcher`` and the ``--local-rank`` that
    ``torch.distributed.launch`` passes. Under ``--launcher pytorch`` the process ends with its
    launcher (:func:`exit_with_launcher`).

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
    if args.launcher == 'pytorch':
        exit_with_launcher()
    return args


@contextlib.contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn one of :data:`USER_ERRORS` into ``error: ...`` on stderr and exit status 1."""
    try:
        yield
    except USER_ERRORS as err:
        sys.exit(f'error: {err}')
