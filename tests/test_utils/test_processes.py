"""The process table read from ``/proc``: children, descendants, names and memory."""

import os
import subprocess
import sys
import time

from smt_mm.utils.processes import alive, child_pids, descendants, process_name, process_rss

#: A child that starts a grandchild, prints its id and waits for it.
PARENT = (
    'import subprocess, sys, time; '
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    'print(g.pid, flush=True); g.wait()'
)


def test_children_descendants_names_and_memory_are_found():
    child = subprocess.Popen([sys.executable, '-c', PARENT], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(child.stdout.readline())
        assert child.pid in child_pids(os.getpid())
        assert grandchild not in child_pids(os.getpid())  # children only
        assert {child.pid, grandchild} <= set(descendants(os.getpid()))
        assert descendants(child.pid) == [grandchild]
        assert child_pids(child.pid) == [grandchild]
        name = process_name(child.pid)
        assert name and 'python' in name
        assert child_pids(os.getpid(), name) == [
            pid for pid in child_pids(os.getpid()) if process_name(pid) == name
        ]
        assert child.pid not in child_pids(os.getpid(), 'pt_data_worker')
        assert process_rss(child.pid) > 1
        assert alive(child.pid) and alive(grandchild)
        os.kill(grandchild, 9)
        child.wait(timeout=30)
        # ended and reaped: gone; a zombie (ended, not reaped) is not alive either
        assert not alive(grandchild) and process_rss(grandchild) is None
    finally:
        child.kill()
        child.stdout.close()
    zombie = subprocess.Popen([sys.executable, '-c', ''])
    deadline = time.time() + 30
    while alive(zombie.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(zombie.pid) and process_rss(zombie.pid) is None
    assert zombie.pid in child_pids(os.getpid())  # still in the table until it is reaped
    zombie.wait()
    assert zombie.pid not in child_pids(os.getpid()) and process_name(zombie.pid) is None
