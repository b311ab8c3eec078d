"""How a run ends on a signal, and why none of its processes outlives it.

* :func:`stop_on_signals` (``tools/train.py`` and ``tools/test.py``): SIGTERM (``kill``,
  ``scancel``, Slurm's preemption, ``torchrun`` stopping the ranks) and SIGINT (Ctrl-C) raise
  :class:`Stopped` in the main thread, so the run unwinds (data-loader workers shut down, the
  work-dir lock is released) and the tool prints one line naming the last intact checkpoint and
  the command that resumes from it, exit status 128 + the signal number (143, 130).
* :func:`defer_sigterm` and :func:`take_stop_request`: with ``save_on_sigterm`` the checkpoint
  hook only notes SIGTERM and saves a checkpoint after the iteration in progress, then stops
  (:class:`~smt_mm.engine.SafeCheckpointHook`). A second signal stops at once (a SIGTERM
  repeated within :data:`REPEAT_WINDOW` seconds counts as the first one).
* :func:`end_with_parent` and :func:`end_workers_with_runner`: a process of the run ends when
  the process that started it dies, even by SIGKILL (the OOM killer), instead of being
  re-parented and living on. A data-loader worker would otherwise hang for good, blocked
  writing to the pipe its dead parent no longer reads. Workers also ignore SIGINT and the
  SIGTERMs that do not come from their parent: sent to every process of the job (Ctrl-C,
  Slurm), they would die under the main process and fail the checkpoint it is saving; they
  end with it instead. Each worker is named :data:`WORKER_NAME` (what ``ps`` and
  ``/proc/<pid>/comm`` show), on every torch, so that a run's workers can be told from its other
  child processes (:mod:`smt_mm.benchmark.memory`).
"""

import contextlib
import ctypes
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from mmengine.dist import get_rank
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from .workdir import find_resume_checkpoint

#: The signals that stop a run with a message (the others keep their default action).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Seconds between two looks at the parent where ``prctl`` is not available.
WATCH_INTERVAL = 0.5
#: Seconds within which a repeated SIGTERM is the same request: a launcher (torchrun, srun)
#: passes on the signal that its tasks also received from ``kill -TERM -PGID`` or Slurm.
REPEAT_WINDOW = 2.0
#: The process name of a data-loader worker: torch's own name for it (recent torch names the
#: worker's main thread so; :class:`EndWithParent` names the process so on every torch).
WORKER_NAME = 'pt_data_worker'
_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_state: dict[str, Any] = {'defer': False, 'requested': None}


class Stopped(KeyboardInterrupt):
    """A run ended by a signal; the message says what was kept and how to go on.

    A ``KeyboardInterrupt`` (as Ctrl-C raises), so that no ``except Exception`` of the host
    libraries swallows it. The tools print it as ``error: ...`` and exit with
    :attr:`exit_status`.

    Args:
        signum (int): The signal.
        detail (str): What was done before stopping, e.g. ``'after saving ...'``. Defaults to
            ``''``.
        message (str): The whole message. Defaults to ``'<NAME> received (<detail>)'``.
    """

    def __init__(self, signum: int, detail: str = '', message: str = '') -> None:
        self.signum = signum
        self.detail = detail
        self.exit_status = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(message or f'{name} received{f" ({detail})" if detail else ""}')


def _handle(signum: int, frame: FrameType | None) -> None:
    """Note a deferred SIGTERM, else stop now."""
    if signum == signal.SIGTERM and _state['defer']:
        first = _state.get('first_at')
        if first is None or time.monotonic() - first < REPEAT_WINDOW:
            _state['requested'] = signum
            _state.setdefault('first_at', time.monotonic())
            return
    raise Stopped(signum)


def _install() -> dict[int, Any] | None:
    """Install :func:`_handle` for :data:`STOP_SIGNALS`; return the previous handlers.

    None off the main thread, where Python cannot set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return {signum: signal.signal(signum, _handle) for signum in STOP_SIGNALS}


def defer_sigterm() -> None:
    """Let SIGTERM only be noted (:func:`take_stop_request`) until the run ends.

    Installs the handler when the tools did not (a toolbox's own ``tools/train.py``).
    """
    if signal.getsignal(signal.SIGTERM) is not _handle:
        _install()
    _state['defer'] = True


def take_stop_request() -> int | None:
    """The deferred signal received since the last call, if any (then forgotten)."""
    requested, _state['requested'] = _state['requested'], None
    return requested


def resume_command(checkpoint: str, launcher: str = 'none', argv: list[str] | None = None) -> str:
    """The command that resumes a stopped ``tools/train.py`` run from ``checkpoint``.

    Args:
        checkpoint (str): The checkpoint to resume from.
        launcher (str): The run's launcher; other than ``'none'`` the launch command (torchrun,
            srun) is not known here. Defaults to ``'none'``.
        argv (list[str], optional): The tool's command line. Defaults to ``sys.argv``.

    Returns:
        str: The shell command, or how to change the launch command.
    """
    argv = list(sys.argv if argv is None else argv)
    if launcher != 'none' or not argv or not argv[0].endswith('train.py'):
        return f'the same command with --resume {checkpoint}'
    kept: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == '--resume':  # with its optional path
            following = next(args, None)
            if following is not None and following.startswith('-'):
                kept.append(following)
        elif arg != '--auto-resume' and not arg.startswith('--resume='):
            kept.append(arg)
    return shlex.join(['python', *kept, '--resume', checkpoint])


def stop_message(stop: Stopped, task: str, work_dir: str, launcher: str = 'none') -> str:
    """One line: the run was stopped, the last intact checkpoint, the resume command.

    Only rank 0 looks for the checkpoint (reading it back takes a while for a large model).

    Args:
        stop (Stopped): How the run was stopped.
        task (str): ``'training'`` or ``'testing'``.
        work_dir (str): The run's work dir.
        launcher (str): The run's launcher. Defaults to ``'none'``.

    Returns:
        str: The message.
    """
    stopped = f'{task} stopped by {signal.Signals(stop.signum).name}'
    if stop.detail:
        stopped += f' {stop.detail}'
    if task != 'training':
        return f'{stopped}: nothing was written'
    if get_rank() != 0:
        return f'{stopped} (rank {get_rank()}; rank 0 names the checkpoint to resume from)'
    last = find_resume_checkpoint(work_dir)
    if last is None:
        return f'{stopped} before any checkpoint was saved in {work_dir}: start it again'
    return (
        f'{stopped}; the last intact checkpoint is {last}: resume with '
        f'{resume_command(last, launcher)}'
    )


@contextlib.contextmanager
def stop_on_signals(task: str, work_dir: str, launcher: str = 'none') -> Iterator[None]:
    """Stop on SIGTERM and SIGINT with :class:`Stopped` and a message saying how to go on.

    The handlers are those of this process while the block runs (main thread only; elsewhere
    the signals keep their handlers); the previous ones come back after it.

    Args:
        task (str): ``'training'`` or ``'testing'``, for the message.
        work_dir (str): The run's work dir, where the last checkpoint is looked for.
        launcher (str): The run's launcher, for the resume command. Defaults to ``'none'``.

    Raises:
        Stopped: When a signal stopped the run; the message is :func:`stop_message`'s.
    """
    previous = _install()
    try:
        yield
    except Stopped as stop:
        message = stop_message(stop, task, work_dir, launcher)
        raise Stopped(stop.signum, stop.detail, message) from None
    finally:
        _state.update(defer=False, requested=None)
        _state.pop('first_at', None)
        for signum, handler in (previous or {}).items():
            signal.signal(signum, handler)


def _watch_parent(parent: int, signum: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    if signum == signal.SIGKILL:
        os._exit(1)
    os.kill(os.getpid(), signum)


def _libc() -> Any:
    """The C library, for ``prctl``; None where it is not Linux's."""
    if sys.platform.startswith('linux'):
        with contextlib.suppress(OSError):
            return ctypes.CDLL(None, use_errno=True)
    return None


def end_with_parent(signum: int = signal.SIGKILL) -> None:
    """Send ``signum`` to this process when its parent dies, even by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG)``, delivered by the kernel as the parent's thread that
    started this process ends (here: the main thread of the run). Elsewhere a daemon thread
    looks at the parent id every :data:`WATCH_INTERVAL` seconds.

    Args:
        signum (int): The signal; SIGKILL ends the process at once, SIGTERM lets its handler
            clean up. Defaults to SIGKILL.
    """
    parent = os.getppid()
    libc = _libc()
    if libc is None or libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        threading.Thread(target=_watch_parent, args=(parent, signum), daemon=True).start()
    elif os.getppid() != parent:  # the parent died before the request was registered
        os.kill(os.getpid(), signum)


def _obey_parent_sigterm(parent: int) -> None:
    """Take the blocked SIGTERMs: exit on the parent's (as torch's workers do), drop others."""
    while True:
        if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent:
            os._exit(0)


class EndWithParent:
    """A ``worker_init_fn`` that ties a data-loader worker to its parent, then calls ``init_fn``.

    The worker is named :data:`WORKER_NAME` (on Linux), gets SIGKILL when its parent dies
    (:func:`end_with_parent`), ignores SIGINT and takes SIGTERM from its parent only (the
    parent's shutdown): a SIGTERM sent to every process of the job (Slurm,
    ``kill -TERM -PGID``) is for the main process, which ends its workers itself. ``init_fn``
    (mmengine's seeding, a user's function) runs after. Picklable when ``init_fn`` is, as the
    ``spawn`` start method needs.

    Args:
        init_fn (Callable[[int], Any], optional): The loader's own ``worker_init_fn``.
    """

    def __init__(self, init_fn: Callable[[int], Any] | None = None) -> None:
        self.init_fn = init_fn

    def __call__(self, worker_id: int) -> None:
        """Set up worker ``worker_id``."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        libc = _libc()
        if libc is not None:
            libc.prctl(_PR_SET_NAME, ctypes.c_char_p(WORKER_NAME.encode()), 0, 0, 0)
        end_with_parent(signal.SIGKILL)
        if hasattr(signal, 'sigwaitinfo'):  # not on macOS: SIGTERM keeps torch's handling
            # blocked before any other thread starts, so that every thread inherits the mask
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            threading.Thread(target=_obey_parent_sigterm, args=(os.getppid(),), daemon=True).start()
        if self.init_fn is not None:
            self.init_fn(worker_id)


def end_workers_with_runner(runner: Runner) -> None:
    """Make every data loader that ``runner`` builds end its workers with the run.

    The loops build their loaders with ``runner.build_dataloader`` (an iteration-based loop
    starts the workers right then), so the runner's method is wrapped: each multi-process
    loader's ``worker_init_fn`` becomes :class:`EndWithParent` around mmengine's own (the
    per-worker seeding) or the config's.

    Args:
        runner (Runner): The runner, changed in place.
    """
    build = runner.build_dataloader

    def build_dataloader(dataloader: DataLoader | dict, *args: Any, **kwargs: Any) -> DataLoader:
        loader = build(dataloader, *args, **kwargs)
        if loader.num_workers > 0 and not isinstance(loader.worker_init_fn, EndWithParent):
            loader.worker_init_fn = EndWithParent(loader.worker_init_fn)
        return loader

    runner.build_dataloader = build_dataloader  # type: ignore[method-assign]


def end_workers_now(runner: Runner) -> None:
    """End the data-loader workers that ``runner``'s loops keep alive after their run.

    A loader with ``persistent_workers`` keeps its workers between passes, and an
    iteration-based training loop keeps its loader's iterator, workers and all. torch ends them
    when the iterator is deleted, but a runner is part of reference cycles and is freed by the
    garbage collector, which first closes the queues it would use to tell the workers to stop:
    each worker then waits out torch's 5-second timeout and is killed. Ending them here, once
    the run is over, takes a fraction of a second. A loop iterated again starts new workers.

    Args:
        runner (Runner): The runner whose training, validation and test loops are looked at;
            loops that were never built are left alone.
    """
    for name in ('_train_loop', '_val_loop', '_test_loop'):
        loop = getattr(runner, name, None)
        loader = getattr(loop, 'dataloader', None)
        if not isinstance(loader, DataLoader):
            continue  # not built (still a config dict), or no loop
        iterators = [getattr(getattr(loop, 'dataloader_iterator', None), '_iterator', None)]
        iterators.append(getattr(loader, '_iterator', None))  # the persistent workers' iterator
        loader._iterator = None  # the next pass starts new workers
        for iterator in iterators:
            shutdown = getattr(iterator, '_shutdown_workers', None)
            if shutdown is not None:  # a multi-process iterator; idempotent
                shutdown()
