"""Processes read from Linux ``/proc``: who is whose child, what they are called, their memory.

One reader of the process table for the memory benchmark (the data-loader workers of a run)
and the kill tests (nothing of a run outlives it). :func:`child_pids` and :func:`descendants`
raise :class:`OSError` where there is no ``/proc`` (not Linux); a process that ends while it is
read counts as gone.
"""

import os
import os.path as osp

_MB = 1024**2


def _read(pid: int, name: str) -> str | None:
    """The text of ``/proc/<pid>/<name>``, None when the process has ended."""
    try:
        with open(f'/proc/{pid}/{name}') as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the name: state, parent id, ..."""
    stat = _read(pid, 'stat')
    # the name, in parentheses, may hold spaces and parentheses: the fields after it are fixed
    return None if stat is None else stat[stat.rfind(')') + 2 :].split()


def _parents() -> dict[int, list[int]]:
    """Every live process id under its parent's id."""
    if not osp.isdir('/proc'):
        raise OSError('reading processes needs Linux /proc')
    children: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def child_pids(pid: int, name: str | None = None) -> list[int]:
    """The ids of the live children of a process (not grandchildren), in increasing order.

    Args:
        pid (int): The parent's id.
        name (str, optional): Only the children of this name (``/proc/<pid>/comm``, at most
            15 characters on Linux), e.g. ``'pt_data_worker'``.

    Returns:
        list[int]: The processes whose parent is ``pid``.
    """
    children = sorted(_parents().get(pid, []))
    if name is None:
        return children
    return [child for child in children if process_name(child) == name]


def descendants(pid: int) -> list[int]:
    """The ids of the live processes below ``pid``: children, grandchildren and so on.

    Args:
        pid (int): The ancestor's id.

    Returns:
        list[int]: Children before their own children.
    """
    children = _parents()
    found, todo = [], [pid]
    while todo:
        for child in sorted(children.get(todo.pop(0), [])):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (ended, not yet reaped by its parent) does not."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != 'Z'


def process_name(pid: int) -> str | None:
    """The name of a process (``/proc/<pid>/comm``), None when it has ended."""
    comm = _read(pid, 'comm')
    return None if comm is None else comm.rstrip('\n')


def process_rss(pid: int) -> float | None:
    """The resident set size of a process in MB (2**20 bytes), None when it has ended.

    Args:
        pid (int): The process id.

    Returns:
        float | None: ``VmRSS`` of ``/proc/<pid>/status``.
    """
    status = _read(pid, 'status')
    for line in (status or '').splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024 / _MB
    return None  # ended, or a zombie (no VmRSS line)
