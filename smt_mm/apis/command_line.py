"""The command-line options and error handling that the tools of ``tools/`` share.

Every tool declares its config, checkpoint and ``--cfg-options`` arguments with
:func:`add_model_arguments` (or ``--cfg-options`` alone with :func:`add_cfg_options_argument`),
``tools/train.py`` and ``tools/test.py`` their launcher options with :func:`parse_tool_args`,
and image sizes are parsed by :func:`parse_size`. Every tool parses its command line with
:func:`parse_with_verbosity` (``--verbose``; quiet consoles otherwise, :mod:`.quiet`).
"""

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from mmengine.config import DictAction

from ..config import LAUNCHERS, ConfigCheckError, ConfigPathError
from ..engine import RunError, Stopped, end_with_parent
from ..models.checkpoint import CheckpointMismatchError, InvalidCheckpointError
from .quiet import set_verbosity

#: The errors whose message is all a user needs: printed as ``error: ...``, exit status 1.
USER_ERRORS = (
    ConfigPathError,
    ConfigCheckError,
    CheckpointMismatchError,
    InvalidCheckpointError,
    RunError,
)
#: How :func:`add_model_arguments` declares the checkpoint argument.
CHECKPOINT_CHOICES = ('required', 'optional', 'none')
#: The environment variable that names the folder where the ranks of a distributed launch
#: record their ``error:`` line (set by ``tools/_torchrun.sh`` and ``tools/_srun.sh``).
ERROR_DIR_ENV = 'SMT_MM_ERROR_DIR'


def add_cfg_options_argument(parser: argparse.ArgumentParser, scope: str = '') -> None:
    """Declare ``--cfg-options KEY=VALUE ...`` (parsed into a dict of dotted keys).

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        scope (str): What the overrides apply to, for the help text, e.g. ``'every config'``.
            Defaults to ``''``.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config settings{f" of {scope}" if scope else ""}, e.g. '
        'model.backbone.init_cfg.checkpoint=PATH; lists as key="[a,b]" or key=a,b, nesting '
        'allowed, no white space in values',
    )


def add_model_arguments(parser: argparse.ArgumentParser, checkpoint: str = 'optional') -> None:
    """Declare the ``config`` and ``checkpoint`` arguments and ``--cfg-options``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        checkpoint (str): ``'required'``, ``'optional'`` (the config's initial weights without
            it) or ``'none'`` (the tool reads its checkpoint another way). Defaults to
            ``'optional'``.

    Raises:
        ValueError: If ``checkpoint`` is not one of :data:`CHECKPOINT_CHOICES`.
    """
    if checkpoint not in CHECKPOINT_CHOICES:
        raise ValueError(f'checkpoint must be one of {CHECKPOINT_CHOICES}, got {checkpoint!r}')
    parser.add_argument('config', help='the config file of the model')
    if checkpoint == 'required':
        parser.add_argument('checkpoint', help='the checkpoint file')
    elif checkpoint == 'optional':
        parser.add_argument(
            'checkpoint', nargs='?', help="the checkpoint (default: the config's initial weights)"
        )
    add_cfg_options_argument(parser)


def parse_size(text: str) -> tuple[int, int, int]:
    """Parse ``HxW`` or ``HxWxBATCH`` (height first) into ``(height, width, batch)``.

    Args:
        text (str): E.g. ``'800x1344'`` or ``'800x1344x2'``; batch 1 when left out.

    Returns:
        tuple[int, int, int]: Height, width and batch.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not two or three positive integers.
    """
    try:
        parts = [int(part) for part in text.lower().split('x')]
    except ValueError:
        parts = []
    if len(parts) == 2:
        parts.append(1)
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f'size must be HxW or HxWxBATCH, got {text!r}')
    return parts[0], parts[1], parts[2]


def print_outputs(outputs: dict[str, str | None]) -> None:
    """Print, as a tool's last lines, every file and folder it wrote (None entries left out).

    Args:
        outputs (dict[str, str | None]): What -> path, e.g. ``{'checkpoint': ..., 'log': ...}``.
    """
    written = {name: path for name, path in outputs.items() if path}
    if not written:
        return
    width = max(len(name) for name in written) + 1
    print('written:')
    for name, path in written.items():
        print(f'  {name + ":":<{width}} {path}', flush=True)


def keyword_options(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The parsed values of ``names``, as the keyword arguments of the function a tool calls.

    Args:
        args (argparse.Namespace): The parsed command line.
        *names (str): Option destinations, named as the function's parameters.

    Returns:
        dict[str, Any]: Name -> value.
    """
    return {name: getattr(args, name) for name in names}


def exit_with_launcher() -> None:
    """End this process when its parent (the ``torchrun`` launcher) dies, even by SIGKILL.

    A worker whose launcher was killed would otherwise wait in a collective for the other
    ranks until the distributed timeout, holding its memory and data-loader workers. It gets
    SIGTERM (:func:`~smt_mm.engine.end_with_parent`), which stops the run as ``kill`` does.
    """
    end_with_parent(signal.SIGTERM)


def parse_with_verbosity(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> argparse.Namespace:
    """Add ``--verbose``, parse, and make the console quiet unless ``--verbose`` is given.

    Quiet (:func:`~smt_mm.apis.quiet.set_verbosity`): the console leaves out mmengine's
    per-parameter lines, environment and config dumps and the toolboxes' known-harmless
    warnings; the log file of a run keeps everything.

    Args:
        parser (argparse.ArgumentParser): The tool's parser with its own options.
        argv (list[str], optional): The arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments (``verbose`` among them).
    """
    parser.add_argument(
        '--verbose',
        action='store_true',
        help='print everything mmengine and the toolboxes print (the environment, the config, '
        'per-parameter init lines, known-harmless warnings); the log file has it anyway',
    )
    args = parser.parse_args(argv)
    set_verbosity(args.verbose)
    return args


def parse_tool_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add the launcher options of the training and test tools, parse, export ``LOCAL_RANK``.

    The options: ``--launcher``, the ``--local-rank`` that ``torch.distributed.launch``
    passes (the tool declares its config with :func:`add_model_arguments`) and ``--verbose``
    (:func:`parse_with_verbosity`). Under
    ``--launcher pytorch`` the process ends with its launcher (:func:`exit_with_launcher`).

    Args:
        parser (argparse.ArgumentParser): The tool's parser with its own options.
        argv (list[str], optional): The arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parse_with_verbosity(parser, argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.launcher == 'pytorch':
        exit_with_launcher()
    return args


def record_launch_error(message: str) -> str | None:
    """Record a worker's error line for its launcher instead of printing it.

    ``tools/dist_*.sh`` and ``tools/slurm_*.sh`` export :data:`ERROR_DIR_ENV`; each failing rank
    writes its line there, named so that the first failure sorts first, and the launcher
    prints the first one once, after torchrun's or srun's own report.

    Args:
        message (str): The line, ``error: ...``.

    Returns:
        str | None: The file written; None outside those launchers (print it yourself).
    """
    folder = os.environ.get(ERROR_DIR_ENV)
    if not folder or not os.path.isdir(folder):
        return None
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    path = os.path.join(folder, f'{time.time_ns()}.rank{rank}')
    with open(path, 'w') as f:
        f.write(message + '\n')
    return path


@contextlib.contextmanager
def exit_on_user_error(*errors: type[Exception]) -> Iterator[None]:
    """Turn one of :data:`USER_ERRORS` or ``errors`` into ``error: ...`` and exit status 1.

    Under ``tools/dist_*.sh`` or ``tools/slurm_*.sh`` the line goes to the launcher
    (:func:`record_launch_error`), which prints the first failing rank's line once, last.

    A run stopped by a signal (:class:`~smt_mm.engine.Stopped`) prints ``error: ...`` too and
    exits with 128 + the signal number, as the shell reports a process the signal killed.

    Args:
        *errors (type[Exception]): More error types whose message a tool's user acts on, e.g.
            ``FileNotFoundError``.
    """
    caught: tuple[type[Exception], ...] = (*USER_ERRORS, *errors)
    try:
        yield
    except caught as err:
        message = f'error: {err}'
        sys.exit(1 if record_launch_error(message) else message)
    except Stopped as stop:
        print(f'error: {stop}', file=sys.stderr, flush=True)
        sys.exit(stop.exit_status)
