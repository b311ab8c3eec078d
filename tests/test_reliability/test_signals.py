"""Fast checks of how a run ends on a signal (issue 26): workers end with their parent.

The end-to-end kills of ``tools/train.py``, ``tools/test.py`` and ``tools/dist_train.sh`` are in
``test_faults.py``.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT
from mmengine.dataset import worker_init_fn as seed_worker
from mmengine.fileio import LocalBackend
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from smt_mm.apis import prepare_train_config
from smt_mm.config import ConfigCheckError, load_config
from smt_mm.engine import RunError, SafeCheckpointHook, Stopped, end_workers_with_runner
from smt_mm.engine.signals import WORKER_NAME, EndWithParent, end_workers_now, resume_command
from smt_mm.utils.processes import alive, child_pids, process_name


def test_resume_command_repeats_the_run_with_resume():
    argv = ['tools/train.py', 'c.py', '--auto-resume', '--work-dir', 'w', '--cfg-options', 'a=1']
    assert resume_command('w/iter_4.pth', argv=argv) == (
        'python tools/train.py c.py --work-dir w --cfg-options a=1 --resume w/iter_4.pth'
    )
    argv = ['tools/train.py', 'c.py', '--resume', '--amp']
    assert resume_command('x.pth', argv=argv) == 'python tools/train.py c.py --amp --resume x.pth'
    argv = ['tools/train.py', 'c.py', '--resume', 'old.pth']
    assert resume_command('x.pth', argv=argv) == 'python tools/train.py c.py --resume x.pth'
    # under torchrun / srun the rank's command line is not the user's
    assert resume_command('x.pth', 'pytorch', argv) == 'the same command with --resume x.pth'


def test_stopped_exits_as_the_shell_reports_the_signal():
    stop = Stopped(signal.SIGTERM, 'after iteration 3, saved as w/iter_3.pth')
    assert stop.exit_status == 143 and isinstance(stop, KeyboardInterrupt)
    assert str(stop) == 'SIGTERM received (after iteration 3, saved as w/iter_3.pth)'
    assert Stopped(signal.SIGINT).exit_status == 130


def test_loaders_built_by_the_runner_keep_mmengine_seeding():
    runner = SimpleNamespace(build_dataloader=Runner.build_dataloader)
    end_workers_with_runner(runner)
    cfg = dict(
        dataset=list(range(8)),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        collate_fn=dict(type='default_collate'),
    )
    loader = runner.build_dataloader(dict(cfg, num_workers=1), seed=7)
    assert isinstance(loader.worker_init_fn, EndWithParent)
    assert loader.worker_init_fn.init_fn.func is seed_worker
    assert loader.worker_init_fn.init_fn.keywords['seed'] == 7
    assert [int(b.sum()) for b in loader] == [1, 5, 9, 13]
    # a user's worker_init_fn is chained as well; a loader without workers is left alone
    loader = runner.build_dataloader(dict(cfg, num_workers=1, worker_init_fn=dict(type=print)))
    assert loader.worker_init_fn.init_fn.func is print
    assert runner.build_dataloader(dict(cfg, num_workers=0), seed=7).worker_init_fn.func is (
        seed_worker
    )


#: A process with one slow data-loader worker; prints the worker's pid, then keeps loading.
#: Without :class:`EndWithParent` the worker outlives a SIGKILLed parent for good, blocked on
#: the full pipe (issue 26), and dies of a SIGTERM or SIGINT sent to the whole job.
PARENT = textwrap.dedent("""
    import functools, os, time
    import torch
    from torch.utils.data import DataLoader
    from smt_mm.engine.signals import EndWithParent

    class Slow(torch.utils.data.Dataset):
        def __len__(self):
            return 100
        def __getitem__(self, i):
            if i == 0:
                print('WORKER', os.getpid(), flush=True)
            time.sleep(0.2)
            return bytes(2**20)  # more than a pipe holds: an orphan blocks writing it

    init = EndWithParent(functools.partial(print, 'INIT', flush=True))  # chained: runs too
    loader = DataLoader(Slow(), num_workers=1, worker_init_fn=init)
    for i, _ in enumerate(loader):
        if i == 0:
            print('READY', flush=True)
""")


def test_a_data_loader_worker_dies_with_its_parent_and_only_obeys_its_sigterm():
    env = {**os.environ, 'PYTHONPATH': REPO_ROOT, 'OMP_NUM_THREADS': '1'}
    parent = subprocess.Popen(
        [sys.executable, '-c', PARENT], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout.readline() == 'INIT 0\n'
        worker = int(parent.stdout.readline().split()[1])
        assert parent.stdout.readline() == 'READY\n'
        assert process_name(worker) == WORKER_NAME
        for signum in (signal.SIGTERM, signal.SIGINT):  # not from the parent: ignored
            os.kill(worker, signum)
        time.sleep(1)
        assert alive(worker) and parent.poll() is None
        parent.kill()  # SIGKILL: the parent cannot end its worker itself
        parent.wait()
        deadline = time.time() + 10
        while alive(worker) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(worker), 'the worker outlived its parent'
    finally:
        parent.kill()
        parent.stdout.close()


def test_a_worker_is_named_whatever_torch_does():
    # torch's own name comes first in recent versions; EndWithParent names it on every torch
    pid = os.fork()
    if pid == 0:  # the child reports through its exit status only
        status = 2
        try:
            EndWithParent()(0)
            status = 0 if process_name(os.getpid()) == WORKER_NAME else 1
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _new_workers(before, timeout=0.0):
    """The named data-loader workers of this process that are not in ``before``."""
    deadline = time.time() + timeout
    while True:
        workers = set(child_pids(os.getpid(), WORKER_NAME)) - before
        if not workers or time.time() >= deadline:
            return workers
        time.sleep(0.05)


def test_workers_a_finished_run_keeps_are_ended_at_once():
    before = set(child_pids(os.getpid(), WORKER_NAME))
    persistent = DataLoader(
        list(range(4)), batch_size=2, num_workers=1, persistent_workers=True,
        worker_init_fn=EndWithParent(),
    )  # fmt: skip
    assert [int(batch.sum()) for batch in persistent] == [1, 5]
    infinite = _InfiniteDataloaderIterator(
        DataLoader(list(range(4)), batch_size=2, num_workers=1, worker_init_fn=EndWithParent())
    )  # an iteration-based training loop's iterator, left in the middle of a pass
    assert int(next(infinite).sum()) == 1
    runner = SimpleNamespace(
        _train_loop=SimpleNamespace(dataloader=infinite._dataloader, dataloader_iterator=infinite),
        _val_loop=None,  # not built
        _test_loop=SimpleNamespace(dataloader=persistent),
    )
    assert len(_new_workers(before)) == 2  # both loaders keep theirs after the pass
    end_workers_now(runner)
    assert not _new_workers(before, timeout=2.0)
    end_workers_now(runner)  # twice is harmless
    assert [int(batch.sum()) for batch in persistent] == [1, 5]  # a new pass, new workers


def test_save_on_sigterm_is_a_checked_option_of_the_checkpoint_hook():
    toy = f'{REPO_ROOT}/configs/classification/smt_t_toy.py'
    cfg = prepare_train_config(load_config(toy), save_on_sigterm=True)
    assert cfg.default_hooks.checkpoint.save_on_sigterm is True
    # the config key is the same option, known to the --cfg-options check
    cfg = load_config(toy, {'default_hooks.checkpoint.save_on_sigterm': True})
    hook = dict(cfg.default_hooks.checkpoint)
    assert hook.pop('type') == 'CheckpointHook' and SafeCheckpointHook(**hook).save_on_sigterm
    with pytest.raises(ConfigCheckError, match='save_on_sigterm'):
        load_config(toy, {'default_hooks.checkpoint.save_on_sigterm_': True})
    with pytest.raises(RunError, match='needs the checkpoint hook'):
        prepare_train_config(
            load_config(toy, {'default_hooks.checkpoint': None}), save_on_sigterm=True
        )


def test_a_full_disk_ends_the_save_with_the_free_space_and_no_partial_file(tmp_path):
    def save_checkpoint(out_dir, filename, *args, **kwargs):
        with open(os.path.join(out_dir, filename), 'wb') as f:
            f.write(b'PK' * 1000)
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    hub = MessageHub.get_instance('test_disk_full')
    hub.update_info('last_ckpt', str(tmp_path / 'iter_1.pth'))
    runner = SimpleNamespace(
        message_hub=hub, work_dir=str(tmp_path), save_checkpoint=save_checkpoint
    )
    hook = SafeCheckpointHook(interval=1)
    hook.out_dir, hook.file_backend = str(tmp_path), LocalBackend()
    with pytest.raises(RunError) as err:
        hook._write_checkpoint(runner, 'iter_2.pth', {})
    assert str(err.value).startswith(f'the disk is full: saving {tmp_path / "iter_2.pth"} failed')
    assert f' MiB free in {tmp_path})' in str(err.value)
    assert f'previous checkpoints are kept ({tmp_path / "iter_1.pth"})' in str(err.value)
    assert os.listdir(tmp_path) == []
    assert hub.get_info('last_ckpt') == str(tmp_path / 'iter_1.pth')
