"""Fault injection through the real tools on the toy configs (issue 18).

Each test reproduces a fault that used to end in exit status 0 with a wrong result, a lost
checkpoint or a hung worker, and asserts the exit status, the message, and that no checkpoint
or result was lost. Training runs use the classification toy config on 8 images of 32x32
(2 iterations per epoch); faults are injected by ``inject.py`` (a SIGKILL mid-save, a pause to
kill the process in, a diverging loss).
"""

import contextlib
import errno
import glob
import os
import os.path as osp
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from toy_runs import logged_losses

from smt_mm.demo import toy_data_options
from smt_mm.engine import is_intact_checkpoint
from smt_mm.models.checkpoint import safe_torch_load
from smt_mm.toydata import generate_imagenet
from smt_mm.utils.processes import alive, descendants

pytestmark = pytest.mark.slow

CLS_TOY = osp.join(REPO_ROOT, 'configs', 'classification', 'smt_t_toy.py')
INJECT = osp.join(osp.dirname(osp.abspath(__file__)), 'inject.py')
QUICK = [
    'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.1.prob=0.0',  # no random flip: resumed losses must match
    'val_dataloader.num_workers=0',
    'test_dataloader.num_workers=0',
    'train_cfg.max_epochs=3',
    'train_cfg.val_interval=100',
    'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=1',
]


@pytest.fixture(scope='module', name='cls_options')
def fixture_cls_options(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_imagenet'))
    generate_imagenet(root, num_train_per_class=2, num_val_per_class=1, size=32)
    return [*(f'{k}={v}' for k, v in toy_data_options(root).items()), *QUICK]


def _args(work_dir, options, *extra):
    return [CLS_TOY, '--work-dir', str(work_dir), *extra, '--cfg-options', *options]


def _train(load_tool, work_dir, options, *extra):
    """Train in this process; return the exit message (None on success)."""
    try:
        load_tool('tools/train.py').main(_args(work_dir, options, *extra))
    except SystemExit as exc:
        return str(exc.code)
    return None


def _spawn(work_dir, options, *extra, tool='train.py', args=None, **faults):
    """Run ``tools/<tool>`` under ``inject.py`` in a session of its own (a job's processes)."""
    env = {**os.environ, 'PYTHONPATH': REPO_ROOT, 'OMP_NUM_THREADS': '1'}
    env.update({k: str(v) for k, v in faults.items()})
    cmd = [sys.executable, INJECT, osp.join(REPO_ROOT, 'tools', tool)]
    return subprocess.Popen(
        cmd + (args or _args(work_dir, options, *extra)), cwd=REPO_ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _read_lines(proc) -> None:
    """Put every output line of ``proc`` on ``proc.lines``, then None when the output ends."""
    for line in proc.stdout:
        proc.lines.put(line)
    proc.lines.put(None)


def _wait_for(proc, text, count=1, timeout=240):
    """Read the process output until ``text`` appeared ``count`` times; return the output.

    The lines are read by a thread, so that a process that stops printing (or a child that
    keeps the pipe open) fails the test at ``timeout`` instead of blocking it forever.
    """
    if not hasattr(proc, 'lines'):
        proc.lines = queue.Queue()
        threading.Thread(target=_read_lines, args=(proc,), daemon=True).start()
    seen, lines, deadline = 0, [], time.time() + timeout
    while seen < count:
        try:
            line = proc.lines.get(timeout=max(deadline - time.time(), 0))
        except queue.Empty:
            line = ''
        assert line, f'no {text!r} within {timeout} s or before the output ended:\n' + ''.join(
            lines[-40:]
        )
        lines.append(line)
        seen += line.count(text)  # the ranks' lines can meet on one line of the pipe
    return ''.join(lines)


def _last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.fixture(scope='module', name='reference_dir')
def fixture_reference_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('reference')


@pytest.fixture(scope='module', name='reference')
def fixture_reference(cls_options, reference_dir, load_tool_module):
    """An uninterrupted 3-epoch run, started with --auto-resume in an empty work dir."""
    work_dir = reference_dir
    assert _train(load_tool_module, work_dir, cls_options, '--auto-resume') is None
    losses = logged_losses(work_dir)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]
    return losses


@pytest.fixture(scope='module', name='load_tool_module')
def fixture_load_tool_module():
    from conftest import load_tool

    return load_tool


def test_kill_9_mid_training_and_a_concurrent_run_then_resume(
    cls_options, reference, load_tool, tmp_path
):
    work_dir = tmp_path / 'run'
    first = _spawn(work_dir, cls_options, FAULT_PAUSE_AT=4)  # in epoch 2, after epoch_1.pth
    try:
        _wait_for(first, 'FAULT: pausing')
        # a second run into the same work dir is refused while the first one runs
        message = _train(load_tool, work_dir, cls_options)
        assert f'in use by another training run (process {first.pid}' in message
        assert '--work-dir' in message
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL
    assert _last_checkpoint(work_dir) == str(work_dir / 'epoch_1.pth')
    assert is_intact_checkpoint(str(work_dir / 'epoch_1.pth'))

    # the killed run's lock is stale: taken over; training resumes to the same losses
    assert _train(load_tool, work_dir, cls_options, '--resume') is None
    text = ''
    for log in glob.glob(str(work_dir / '*' / '*.log')):
        with open(log) as f:
            text += f.read()
    assert 'taking over the stale lock' in text and f'process {first.pid}' in text
    resumed = logged_losses(work_dir)
    for step in (3, 4, 5, 6):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step
    assert not (work_dir / 'train.lock').exists()


def test_kill_mid_save_keeps_the_previous_checkpoint(cls_options, reference, load_tool, tmp_path):
    work_dir = tmp_path / 'run'
    proc = _spawn(work_dir, cls_options, FAULT_KILL_IN_SAVE=2)  # the epoch_2 save, keep 1
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, output[-3000:]
    assert 'FAULT: killed while writing' in output
    assert is_intact_checkpoint(str(work_dir / 'epoch_1.pth'))
    assert _last_checkpoint(work_dir) == str(work_dir / 'epoch_1.pth')
    assert not (work_dir / 'epoch_2.pth').exists()

    # a truncated latest checkpoint (as a non-atomic writer leaves it) is skipped on resume
    data = (work_dir / 'epoch_1.pth').read_bytes()
    (work_dir / 'epoch_2.pth').write_bytes(data[: len(data) // 3])
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_2.pth'))
    assert _train(load_tool, work_dir, cls_options, '--resume') is None
    assert sorted(f for f in os.listdir(work_dir) if '.pth' in f) == ['epoch_3.pth']
    assert is_intact_checkpoint(str(work_dir / 'epoch_3.pth'))
    assert logged_losses(work_dir)[6] == pytest.approx(reference[6], rel=1e-5, abs=1e-6)


def test_failed_save_keeps_the_previous_checkpoint(cls_options, load_tool, tmp_path):
    (tmp_path / 'epoch_2.pth').mkdir()  # the save of epoch 2 cannot land
    message = _train(load_tool, tmp_path, cls_options, '--cfg-options', 'train_cfg.max_epochs=2')
    assert message.startswith('error: could not move the new checkpoint into place')
    assert is_intact_checkpoint(str(tmp_path / 'epoch_1.pth'))
    assert _last_checkpoint(tmp_path) == str(tmp_path / 'epoch_1.pth')


def test_full_disk_ends_the_run_and_removes_the_partial_file(
    cls_options, load_tool, tmp_path, monkeypatch
):
    put, saves = LocalBackend.put, []

    def disk_full(self, obj, filepath):
        saves.append(filepath)
        if len(saves) == 2 and str(filepath).endswith('.pth.tmp'):  # the save of epoch 2
            with open(filepath, 'wb') as f:
                f.write(obj[: len(obj) // 3])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filepath))
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', disk_full)
    message = _train(load_tool, tmp_path, cls_options, '--cfg-options', 'train_cfg.max_epochs=2')
    assert message.startswith(f'error: the disk is full: saving {tmp_path / "epoch_2.pth"} failed')
    assert 'No space left on device' in message and ' MiB free in ' in message
    assert f'previous checkpoints are kept ({tmp_path / "epoch_1.pth"})' in message
    assert '\n' not in message
    assert sorted(f for f in os.listdir(tmp_path) if '.pth' in f) == ['epoch_1.pth']
    assert _last_checkpoint(tmp_path) == str(tmp_path / 'epoch_1.pth')


def test_diverged_loss_stops_naming_iteration_and_last_checkpoint(
    cls_options, load_tool, tmp_path, monkeypatch
):
    parse_losses, steps = BaseModel.parse_losses, []

    def diverging(self, losses):
        loss, log_vars = parse_losses(self, losses)
        steps.append(1)
        if len(steps) >= 3:  # from the first step of epoch 2
            loss = loss * float('nan')
            log_vars['loss'] = loss.detach()
        return loss, log_vars

    monkeypatch.setattr(BaseModel, 'parse_losses', diverging)
    message = _train(load_tool, tmp_path, cls_options)
    assert message.startswith('error: the loss is nan at iteration 3')
    assert f'The last good checkpoint is {tmp_path / "epoch_1.pth"}' in message
    assert not (tmp_path / 'epoch_2.pth').exists() and not (tmp_path / 'epoch_3.pth').exists()
    weights = safe_torch_load(str(tmp_path / 'epoch_1.pth'))['state_dict']['head.fc.weight']
    assert torch.isfinite(weights).all()


def test_killed_launcher_leaves_no_worker(cls_options, tmp_path):
    with socket.socket() as free:
        free.bind(('127.0.0.1', 0))
        port = free.getsockname()[1]
    options = [o for o in cls_options if 'train_dataloader.num_workers' not in o]
    options = [o for o in options if 'persistent_workers' not in o]
    env = {**os.environ, 'PYTHONPATH': REPO_ROOT, 'FAULT_PAUSE_AT': '2', 'OMP_NUM_THREADS': '1'}
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={port}', INJECT, osp.join(REPO_ROOT, 'tools', 'train.py'),
        *_args(tmp_path, [*options, 'train_dataloader.num_workers=1']), '--launcher', 'pytorch',
    ]  # fmt: skip
    launcher = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        _wait_for(launcher, 'FAULT: pausing', count=2)
        workers = descendants(launcher.pid)
        assert len(workers) >= 4, workers  # 2 ranks and their data-loader workers
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        deadline = time.time() + 30
        while any(alive(p) for p in workers) and time.time() < deadline:
            time.sleep(0.5)
        left = [p for p in workers if alive(p)]
    finally:
        for pid in descendants(launcher.pid) + workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert not left, f'orphaned processes: {left}'


def _one_worker(options):
    """``options`` with one persistent data-loader worker for training and testing."""
    options = [o for o in options if 'num_workers' not in o and 'persistent_workers' not in o]
    return [*options, 'train_dataloader.num_workers=1', 'test_dataloader.num_workers=1']


def _until_exit(proc, timeout=120):
    """The rest of the output of ``proc`` once it has exited (fails at ``timeout``)."""
    lines, deadline = [], time.time() + timeout
    while True:
        try:
            line = proc.lines.get(timeout=max(deadline - time.time(), 0))
        except queue.Empty:
            pytest.fail(f'still running after {timeout} s:\n' + ''.join(lines[-40:]))
        if line is None:
            proc.wait(timeout=30)
            return ''.join(lines)
        lines.append(line)


def _survivors(pids, timeout=10):
    """The processes of ``pids`` alive ``timeout`` s after the run ended (each killed)."""
    deadline = time.time() + timeout
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.2)
    left = [p for p in pids if alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def _signal_at_pause(proc, send, pause='FAULT: pausing'):
    """At ``pause``, signal ``proc`` with ``send(pid)``; the run's processes and its output."""
    try:
        _wait_for(proc, pause)
        run = [proc.pid, *descendants(proc.pid)]
        assert len(run) >= 2, run  # the data-loader worker
        send(proc.pid)
        return run, _until_exit(proc)
    finally:
        proc.kill()


def _assert_stop_message(output, start, checkpoint):
    """The run's last line starts with ``start`` and ends with the resume from ``checkpoint``."""
    last = output.strip().splitlines()[-1]
    assert last.startswith(start), output[-3000:]
    assert last.endswith(f' --resume {checkpoint}'), last


@pytest.mark.parametrize(
    'signum', [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_a_signal_ends_training_and_every_process_of_it(cls_options, tmp_path, signum):
    proc = _spawn(tmp_path, _one_worker(cls_options), FAULT_PAUSE_AT=3)  # after epoch_1.pth
    # Ctrl-C reaches every process of the job; `kill PID`, the OOM killer: the main one alone
    send = os.killpg if signum == signal.SIGINT else os.kill
    run, output = _signal_at_pause(proc, lambda pid: send(pid, signum))
    left = _survivors(run)
    assert not left, f'processes that outlived the run: {left}'
    if signum == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        return
    assert proc.returncode == 128 + signum, output[-3000:]
    checkpoint = tmp_path / 'epoch_1.pth'
    _assert_stop_message(
        output,
        f'error: training stopped by {signum.name}; the last intact checkpoint is {checkpoint}: '
        f'resume with python {REPO_ROOT}/tools/train.py {CLS_TOY} --work-dir {tmp_path} ',
        checkpoint,
    )
    assert not (tmp_path / 'train.lock').exists()


def test_save_on_sigterm_saves_after_the_iteration_then_stops(cls_options, load_tool, tmp_path):
    proc = _spawn(
        tmp_path, _one_worker(cls_options), '--save-on-sigterm',
        FAULT_PAUSE_AT=3, FAULT_PAUSE_SECONDS=4,
    )  # fmt: skip
    # as Slurm does: every process of the job
    run, output = _signal_at_pause(proc, lambda pid: os.killpg(pid, signal.SIGTERM))
    assert not _survivors(run)
    assert proc.returncode == 143, output[-3000:]
    saved = tmp_path / 'iter_3.pth'  # mid-epoch (epoch 2 of 2-iteration epochs)
    _assert_stop_message(
        output,
        f'error: training stopped by SIGTERM after iteration 3, saved as {saved}; the last '
        f'intact checkpoint is {saved}: resume with python ',
        saved,
    )
    assert is_intact_checkpoint(str(saved)) and _last_checkpoint(tmp_path) == str(saved)
    assert safe_torch_load(str(saved))['meta']['iter'] == 3
    # the resume command goes on from there to the end
    assert _train(load_tool, tmp_path, cls_options, '--resume', str(saved)) is None
    assert is_intact_checkpoint(str(tmp_path / 'epoch_3.pth'))


def test_sigterm_ends_testing_and_its_worker(cls_options, reference, reference_dir, tmp_path):
    checkpoint = str(reference_dir / 'epoch_3.pth')
    args = [CLS_TOY, checkpoint, '--work-dir', str(tmp_path), '--cfg-options']
    proc = _spawn(
        None, None, tool='test.py', args=args + _one_worker(cls_options), FAULT_PAUSE_TEST_AT=1
    )
    send = lambda pid: os.kill(pid, signal.SIGTERM)  # noqa: E731
    run, output = _signal_at_pause(proc, send, 'FAULT: pausing at test step')
    assert not _survivors(run)
    assert proc.returncode == 143, output[-3000:]
    assert output.strip().endswith('error: testing stopped by SIGTERM: nothing was written')
    assert not glob.glob(str(tmp_path / 'eval_*.json'))


# SIGKILL of one rank (torchrun takes the other down), or of the dist_train.sh script itself
# (torchrun gets SIGTERM from the kernel as its parent dies, see tools/_first_error.sh).
@pytest.mark.parametrize('victim', ['rank', 'launcher'])
def test_a_killed_rank_or_launcher_takes_its_dist_train_run_down(cls_options, tmp_path, victim):
    with socket.socket() as free:
        free.bind(('127.0.0.1', 0))
        port = free.getsockname()[1]
    options = [
        *_one_worker(cls_options), 'train_cfg.max_epochs=1000', 'train_cfg.val_interval=1000',
        'default_hooks.checkpoint.interval=1000',
    ]  # fmt: skip
    env = {**os.environ, 'PYTHON': sys.executable, 'PORT': str(port), 'OMP_NUM_THREADS': '1'}
    launcher = subprocess.Popen(
        ['bash', 'tools/dist_train.sh', *_args(tmp_path, options)[:1], '2',
         *_args(tmp_path, options)[1:]],
        cwd=REPO_ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    run = []
    try:
        _wait_for(launcher, 'Epoch(train)', count=2)  # the ranks' workers are up
        run = descendants(launcher.pid)
        # the ranks: torchrun's children (their workers inherit RANK from them)
        ranks = [p for p in run if _environ(p).get('RANK') and not _environ(_ppid(p)).get('RANK')]
        assert len(ranks) == 2 and len(run) >= 5, run  # torchrun, 2 ranks and their workers
        if victim == 'rank':
            os.kill(next(p for p in ranks if _environ(p)['RANK'] == '1'), signal.SIGKILL)
        else:
            os.kill(launcher.pid, signal.SIGKILL)
        _until_exit(launcher)  # the output ends when every process of the run has ended
    finally:
        with contextlib.suppress(ProcessLookupError):  # nothing may outlive a failed test
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode != 0
    left = _survivors(run)
    assert not left, f'processes that outlived the run: {left}'


def _environ(pid):
    try:
        with open(f'/proc/{pid}/environ', 'rb') as f:
            pairs = [item.split(b'=', 1) for item in f.read().split(b'\0') if b'=' in item]
    except OSError:
        return {}
    return {k.decode(errors='replace'): v.decode(errors='replace') for k, v in pairs}


def _ppid(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return int(f.read().rsplit(')', 1)[1].split()[1])
    except OSError:
        return None
