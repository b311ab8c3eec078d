"""Quiet consoles: the toolboxes' known-harmless messages stay off the screen, not out of the log.

The tools, demos and visualisers call :func:`set_verbosity` once (``--verbose`` of
:func:`~smt_mm.apis.command_line.add_verbose_argument`). Quiet, the default of the tools:

* the console handler of every mmengine logger drops the records of :data:`QUIET_LOG_MESSAGES`
  (per-parameter initialisation and ``paramwise_options`` lines, the environment and config
  dumps, the hook order, ...). Only the console: the log file of a run
  (``<work_dir>/<timestamp>/<timestamp>.log``) keeps every record. Runners built by
  :func:`~smt_mm.apis.build_runner` are filtered from their first record on
  (:class:`ConsoleQuietRunner`); other loggers from the call on.
* Python warnings matching :data:`QUIET_WARNINGS` are ignored: harmless for these tools and
  repeated once per picture or per data-loader worker. Any other warning is shown as usual.

Verbose, the console shows everything mmengine and the toolboxes print.
"""

import logging
import re
import warnings
from typing import cast

from mmengine.logging import MMLogger
from mmengine.runner import Runner

#: Console records dropped when quiet, as regular expressions matched at the message's start.
QUIET_LOG_MESSAGES: tuple[str, ...] = (
    # mmengine's optimizer constructor: one line per parameter without weight decay
    r'paramwise_options -- ',
    # BaseModule.init_weights without a log file: one entry per parameter
    r'\n\S+ - torch\.Size\(\[[\d, ]*\]\): \n',
    # Runner: versions, torch's build settings and the runtime settings
    r'\n-+\nSystem environment:',
    # Runner: the whole config (also in <work_dir>/<timestamp>/vis_data/config.py)
    r'Config:\n',
    r'Hooks will be executed in the following order:',
    r'Distributed training is not used, all SyncBatchNorm \(SyncBN\) layers',
    # mmengine's own deprecations, raised by mmengine's own calls
    r'"FileClient" will be deprecated in future',
    r'"HardDiskBackend" is the alias of "LocalBackend"',
)
#: Python warnings ignored when quiet: ``(message regular expression, category)``; the
#: expression matches the message's start, case-insensitively (:func:`warnings.filterwarnings`).
QUIET_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # mmengine's Visualizer.draw_featmap resizes a map to its image, as asked
    (r'Since the spatial dimensions of overlaid_image: .* the feature map will be interpolated',
     UserWarning),
    # mmengine's Visualizer: a box or label touching the border of a small picture
    (r'Warning: The (bbox|text|polygon|line|circle) is out of bounds', UserWarning),
    # mmengine imports pkg_resources (again in every data-loader worker)
    (r'pkg_resources is deprecated as an API', UserWarning),
    # mmseg about its own default (kept by the ADE20K recipes) and its own deprecated call
    (r'Default ``avg_non_ignore`` is False', UserWarning),
    (r'``build_loss`` would be deprecated soon', UserWarning),
)  # fmt: skip

_QUIET_LOG = re.compile('|'.join(f'(?:{pattern})' for pattern in QUIET_LOG_MESSAGES))


class ConsoleNoiseFilter(logging.Filter):
    """A handler filter that drops the records of :data:`QUIET_LOG_MESSAGES` while enabled.

    Attributes:
        enabled (bool): Whether it filters (:func:`set_verbosity` switches it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.enabled = False

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether the record reaches the console.

        Args:
            record (logging.LogRecord): The record.

        Returns:
            bool: False for a known-harmless message while enabled.
        """
        return not self.enabled or _QUIET_LOG.match(record.getMessage()) is None


_CONSOLE_FILTER = ConsoleNoiseFilter()


def _console_handlers(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers of ``logger`` that write to a stream other than a file."""
    return [
        handler
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
    ]


def quiet_console(logger: logging.Logger) -> logging.Logger:
    """Filter the console handlers of ``logger`` with the filter :func:`set_verbosity` switches.

    File handlers are left alone: the log file keeps every record.

    Args:
        logger (logging.Logger): E.g. a runner's ``MMLogger``.

    Returns:
        logging.Logger: ``logger``.
    """
    for handler in _console_handlers(logger):
        if _CONSOLE_FILTER not in handler.filters:
            handler.addFilter(_CONSOLE_FILTER)
    return logger


def set_verbosity(verbose: bool) -> None:
    """Make the console quiet (the default of the tools) or verbose (``--verbose``).

    Applies to mmengine's current logger and to the runners :func:`~smt_mm.apis.build_runner`
    builds later; the warning filters are process-wide (data-loader workers started later
    inherit them).

    Args:
        verbose (bool): Show everything (mmengine's behaviour) instead of filtering the
            known-harmless messages.
    """
    _CONSOLE_FILTER.enabled = not verbose
    quiet_console(MMLogger.get_current_instance())
    if verbose:
        quiet = {(message, category) for message, category in QUIET_WARNINGS}
        filters = cast(list, warnings.filters)  # a list (typeshed says Sequence)
        filters[:] = [
            entry
            for entry in filters
            if not (entry[0] == 'ignore' and entry[1] is not None
                    and (entry[1].pattern, entry[2]) in quiet)
        ]  # fmt: skip
        return
    for message, category in QUIET_WARNINGS:
        warnings.filterwarnings('ignore', message, category)


def is_quiet() -> bool:
    """Whether :func:`set_verbosity` last made the console quiet.

    Returns:
        bool: True after ``set_verbosity(False)``; False before any call.
    """
    return _CONSOLE_FILTER.enabled


class ConsoleQuietRunner(Runner):
    """mmengine's ``Runner`` whose console is quiet from the first record when :func:`is_quiet`.

    Only :meth:`build_logger` differs: it adds the console filter (:func:`quiet_console`) to
    the logger it builds, before the runner logs its environment and config.
    """

    def build_logger(self, *args, **kwargs) -> MMLogger:
        """Build the runner's logger as mmengine does, then add the console filter.

        Args:
            *args: Passed to ``Runner.build_logger``.
            **kwargs: Passed to ``Runner.build_logger``.

        Returns:
            MMLogger: The logger.
        """
        return quiet_console(super().build_logger(*args, **kwargs))
