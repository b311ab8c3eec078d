"""The work dir of a training run: its lock and its checkpoints.

* :class:`WorkDirLock`: one training run per work dir. A second run into the same folder would
  overwrite the first one's checkpoints and ``last_checkpoint``; a lock left by a process that
  no longer runs is taken over.
* :func:`is_intact_checkpoint` and :func:`find_resume_checkpoint`: ``--resume`` picks the newest
  checkpoint that reads back completely, and says which truncated ones it skipped.
"""

import json
import os
import os.path as osp
import re
import socket
import sys
import time
import zipfile

from mmengine.logging import print_log

from ..utils.errors import RunError

#: Checkpoint names the runners write: ``iter_<N>.pth`` and ``epoch_<N>.pth``.
_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
LOCK_NAME = 'train.lock'


def is_intact_checkpoint(path: str) -> bool:
    """Whether a checkpoint file reads back completely.

    ``torch.save`` writes a zip archive: it is intact when its directory and every member's
    CRC check out (a truncated or partly written file fails). A file in torch's legacy format
    cannot be checked without unpickling it and counts as intact when it is not empty.

    Args:
        path (str): The file.

    Returns:
        bool: True if the file exists and is complete.
    """
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    if not zipfile.is_zipfile(path):
        with open(path, 'rb') as f:
            return f.read(2) == b'\x80\x02'  # a legacy torch.save starts with pickle protocol 2
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def _listed_checkpoints(work_dir: str) -> list[str]:
    """The ``epoch_N.pth`` / ``iter_N.pth`` files of ``work_dir``, the newest (highest N) first."""
    found = []
    for name in os.listdir(work_dir):
        match = _CHECKPOINT_NAME.match(name)
        if match:
            found.append((int(match.group(2)), name))
    return [osp.join(work_dir, name) for _, name in sorted(found, reverse=True)]


def find_resume_checkpoint(work_dir: str) -> str | None:
    """The checkpoint to resume a run of ``work_dir`` from: the newest intact one.

    The candidates are the file named by ``<work_dir>/last_checkpoint`` (what the checkpoint hook
    wrote last), then the ``epoch_N.pth`` / ``iter_N.pth`` files of the folder, newest first.
    Truncated or unreadable candidates are skipped with a warning naming them.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The checkpoint, or None if the folder holds none (or does not exist).
    """
    if not osp.isdir(work_dir):
        return None
    candidates = []
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last:
            candidates.append(last)
    candidates += [path for path in _listed_checkpoints(work_dir) if path not in candidates]
    for path in candidates:
        if is_intact_checkpoint(path):
            return path
        reason = 'missing' if not osp.exists(path) else 'truncated or unreadable'
        print_log(
            f'resume: skipping {path} ({reason}); trying the previous checkpoint',
            logger='current',
            level=30,
        )
    return None


def describe_resume_search(work_dir: str) -> str:
    """Where :func:`find_resume_checkpoint` looked, for the error when it found nothing."""
    return f'{osp.join(work_dir, "last_checkpoint")} and {osp.join(work_dir, "{epoch,iter}_*.pth")}'


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


class WorkDirLock:
    """An exclusive lock on a work dir, held by one training process.

    The lock is the file ``<work_dir>/train.lock`` created atomically (``O_EXCL``), holding the
    host, process id, start time and command line of its owner. A lock of a process that is no
    longer running on this host is stale and taken over with a warning; one from another host
    cannot be checked and stays held. The owning process may acquire it again (a second run in
    the same Python process, e.g. a notebook).

    Args:
        work_dir (str): The folder to lock (created if needed).
    """

    def __init__(self, work_dir: str) -> None:
        self.path = osp.join(work_dir, LOCK_NAME)
        self.owner = dict(host=socket.gethostname(), pid=os.getpid())

    def _read(self) -> dict:
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        record = dict(self.owner, started=time.strftime('%Y-%m-%d %H:%M:%S'), argv=sys.argv)
        with os.fdopen(fd, 'w') as f:
            json.dump(record, f)
        return True

    def acquire(self) -> None:
        """Take the lock, taking over a stale one.

        Raises:
            RunError: If another live process holds the lock; the message names it.
        """
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        for _ in range(3):  # a stale lock is removed, then created afresh (racing is possible)
            if self._create():
                return
            held = self._read()
            if not held:  # being written by its owner right now, or empty: look again
                time.sleep(0.2)
                held = self._read()
            if held.get('host') == self.owner['host'] and held.get('pid') == self.owner['pid']:
                return
            same_host = held.get('host') == self.owner['host']
            if held and (not same_host or _process_alive(int(held.get('pid', -1)))):
                raise RunError(
                    f'the work dir {osp.dirname(self.path)} is in use by another training run '
                    f'(process {held.get("pid")} on {held.get("host")}, started '
                    f'{held.get("started")}: {" ".join(held.get("argv", []))}). Two runs in one '
                    "work dir overwrite each other's checkpoints: choose another --work-dir, or "
                    f'wait for that run to end. If it is over (e.g. on another machine), delete '
                    f'{self.path}.'
                )
            print_log(
                f'taking over the stale lock {self.path} of process {held.get("pid")}, which no '
                'longer runs',
                logger='current',
                level=30,
            )
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
        raise RunError(f'could not lock the work dir: {self.path} keeps changing')

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        held = self._read()
        if held.get('host') == self.owner['host'] and held.get('pid') == self.owner['pid']:
            os.remove(self.path)
