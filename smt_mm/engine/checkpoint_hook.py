"""mmengine's ``CheckpointHook``, made safe: a failed or interrupted save never loses a checkpoint.

mmengine 0.10's hook deletes the oldest checkpoint (``max_keep_ckpts``) *before* writing the new
one, writes it in place and keeps saving when the loss has diverged. :class:`SafeCheckpointHook`
keeps its arguments and behaviour otherwise, and

* writes each checkpoint to ``<name>.tmp``, checks that it reads back, and only then renames it
  into place (atomic on POSIX), updates ``last_checkpoint`` the same way and deletes the
  outdated checkpoints last: a kill, a full disk or any error mid-save leaves the previous
  checkpoints and ``last_checkpoint`` as they were;
* stops training with :class:`~smt_mm.engine.RunError` when the loss is NaN or infinite
  (on any rank), before that iteration's weights are saved, naming the iteration and the last
  good checkpoint;
* locks the work dir for the run (:class:`~smt_mm.engine.workdir.WorkDirLock`);
* ends the run with a :class:`~smt_mm.engine.RunError` naming the path and the free
  space when the disk (or the quota) is full, and removes the partly written file;
* with ``save_on_sigterm=True`` (``tools/train.py --save-on-sigterm``), saves a checkpoint
  after the iteration in progress when SIGTERM arrives (Slurm's preemption, ``scancel``), then
  stops (:class:`~smt_mm.engine.signals.Stopped`).

:func:`install_safe_checkpoint_hook` (called by ``import smt_mm``) registers it as
``CheckpointHook`` in mmengine's root registry, so every config that imports smt_mm (the
``custom_imports`` line) gets it with mmdet's, mmseg's and mmpretrain's own tools as well.
"""

import errno
import math
import os
import os.path as osp
import shutil
from typing import Any

import torch
from mmengine.dist import (
    all_reduce,
    barrier,
    broadcast_object_list,
    get_world_size,
    is_main_process,
)
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from ..utils.errors import RunError
from .signals import Stopped, defer_sigterm, take_stop_request
from .workdir import WorkDirLock, is_intact_checkpoint

#: The ``OSError`` numbers of a full disk or quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_durably(tmp: str, path: str) -> None:
    """Flush ``tmp`` to disk and rename it to ``path`` (atomic within one file system)."""
    if osp.isfile(tmp):
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def _remove(path: str) -> None:
    if osp.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif osp.lexists(path):
        os.remove(path)


def disk_full_error(err: OSError, path: str, previous: str | None) -> RunError:
    """The error that ends a run whose checkpoint ``path`` did not fit on the disk.

    Args:
        err (OSError): The error of the write (``ENOSPC`` or ``EDQUOT``).
        path (str): The checkpoint that was being saved.
        previous (str, optional): The last checkpoint saved before, which is kept.

    Returns:
        RunError: The error, naming the path, the free space and the fix.
    """
    folder = osp.dirname(osp.abspath(path))
    try:
        free = f'{shutil.disk_usage(folder).free / 2**20:.1f} MiB free'
    except OSError:
        free = 'free space unknown'
    return RunError(
        f'the disk is full: saving {path} failed ({err.strerror or err}; {free} in {folder}); '
        f'the partial file was removed and the previous checkpoints are kept '
        f'({previous or "none yet"}). Free some space (or use a --work-dir on another disk), '
        'then resume with --resume'
    )


def write_text_atomically(path: str, text: str) -> None:
    """Write a small text file so that readers see either the old or the new content."""
    tmp = f'{path}.tmp'
    try:
        with open(tmp, 'w') as f:
            f.write(text)
        _replace_durably(tmp, path)
    except OSError:
        _remove(tmp)
        raise


class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with atomic saves, a non-finite loss guard and a work-dir lock.

    Same arguments as mmengine's ``CheckpointHook``, and ``save_on_sigterm``. Remote
    ``out_dir`` back-ends (petrel, HTTP) are saved as mmengine does.

    Args:
        *args: The arguments of mmengine's ``CheckpointHook``.
        save_on_sigterm (bool): On SIGTERM, finish the iteration in progress, save a checkpoint
            (``iter_N.pth``; ``epoch_N.pth`` at the end of an epoch), then stop. All ranks stop
            after the same iteration. A second signal stops at once. An epoch-based run resumed
            from a checkpoint saved mid-epoch starts that epoch again (mmengine's epoch loops
            resume at epoch boundaries). Defaults to False.
        **kwargs: The keyword arguments of mmengine's ``CheckpointHook``.
    """

    def __init__(self, *args: Any, save_on_sigterm: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.save_on_sigterm = save_on_sigterm

    def before_train(self, runner: Runner) -> None:
        """Lock the work dir (every rank learns the outcome), then set up as mmengine does."""
        if self.save_on_sigterm:
            defer_sigterm()
        error = None
        if is_main_process():
            self._lock = WorkDirLock(runner.work_dir)
            try:
                self._lock.acquire()
            except RunError as err:
                error = str(err)
        if get_world_size() > 1:
            shared = [error]
            broadcast_object_list(shared)
            error = shared[0]
        if error is not None:
            raise RunError(error)
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, LocalBackend):
            for name in os.listdir(self.out_dir):  # debris of a save that was interrupted
                if name.endswith('.pth.tmp'):
                    debris = osp.join(self.out_dir, name)
                    shutil.rmtree(debris) if osp.isdir(debris) else os.remove(debris)

    def after_train(self, runner: Runner) -> None:
        """Release the work-dir lock."""
        if is_main_process() and getattr(self, '_lock', None) is not None:
            self._lock.release()

    def after_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        """Stop on a non-finite loss, else save as mmengine does; save and stop on SIGTERM."""
        self._check_loss(runner, outputs)
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if self.save_on_sigterm:
            self._stop_if_signalled(runner, batch_idx)

    def _stop_if_signalled(self, runner: Runner, batch_idx: int) -> None:
        """Save and raise :class:`Stopped` when any rank received SIGTERM."""
        signalled = torch.tensor(float(take_stop_request() or 0))
        if get_world_size() > 1:  # every rank stops after the same iteration
            all_reduce(signalled, op='max')
        signum = int(signalled.item())
        if not signum:
            return
        done = runner.iter + 1
        if self.by_epoch and batch_idx + 1 == len(runner.train_dataloader):
            step = runner.epoch + 1
            self._save_checkpoint_with_step(runner, step, dict(epoch=step, iter=done))
        elif self.by_epoch:  # mid-epoch: not one of the epoch checkpoints max_keep_ckpts counts
            self._write_checkpoint(runner, f'iter_{done}.pth', dict(epoch=runner.epoch, iter=done))
        elif runner.message_hub.get_info('last_ckpt') != osp.join(
            self.out_dir, self.filename_tmpl.format(done)
        ):  # not saved by the interval just now
            self._save_checkpoint_with_step(runner, done, dict(epoch=runner.epoch, iter=done))
        if get_world_size() > 1:  # no rank ends (and makes the launcher stop rank 0) mid-save
            barrier()
        saved = runner.message_hub.get_info('last_ckpt')
        raise Stopped(signum, f'after iteration {done}, saved as {saved}')

    def _check_loss(self, runner: Runner, outputs: Any) -> None:
        if not isinstance(outputs, dict):
            return
        losses = [v for k, v in outputs.items() if k == 'loss'] or [
            v for k, v in outputs.items() if 'loss' in k
        ]
        bad = [float(torch.as_tensor(v).detach().float().sum()) for v in losses]
        bad = [v for v in bad if not math.isfinite(v)]
        count = torch.tensor(float(len(bad)))
        if get_world_size() > 1:  # a NaN on one rank must stop all of them
            all_reduce(count)
        if count.item() == 0:
            return
        last = runner.message_hub.get_info('last_ckpt') if self._is_saved(runner) else None
        raise RunError(
            f'the loss is {bad[0] if bad else "not finite on another rank"} at iteration '
            f"{runner.iter + 1}: training diverged and stopped (this iteration's weights are "
            'not saved). '
            + (
                f'The last good checkpoint is {last}: resume from it with '
                f'--resume {last} after lowering the learning rate '
                '(--cfg-options optim_wrapper.optimizer.lr=...) or clipping gradients '
                '(optim_wrapper.clip_grad=dict(max_norm=...)).'
                if last
                else 'No checkpoint was saved before: restart with a lower learning rate '
                '(--cfg-options optim_wrapper.optimizer.lr=...) or clipped gradients '
                '(optim_wrapper.clip_grad=dict(max_norm=...)).'
            )
        )

    @staticmethod
    def _is_saved(runner: Runner) -> bool:
        last = runner.message_hub.get_info('last_ckpt')
        return bool(last) and osp.isfile(last)

    def _save_checkpoint_with_step(self, runner: Runner, step: int, meta: dict) -> None:
        """Save ``step`` atomically, then point ``last_checkpoint`` at it, then prune."""
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = []
        if self.max_keep_ckpts > 0 and not (
            len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step
        ):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        path = self._write_checkpoint(runner, self.filename_tmpl.format(step), meta)
        if not is_main_process():
            return
        for old in outdated:
            old_path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if old_path != path and osp.isfile(old_path):
                os.remove(old_path)

    def _write_checkpoint(self, runner: Runner, name: str, meta: dict) -> str:
        """Save ``name`` in the out dir atomically, then point ``last_checkpoint`` at it.

        A failed save removes the partial file (a full disk ends the run with
        :func:`disk_full_error`) and leaves ``last_checkpoint`` as it was.

        Returns:
            str: The checkpoint's path.
        """
        path = osp.join(self.out_dir, name)
        previous = runner.message_hub.get_info('last_ckpt')
        runner.message_hub.update_info('last_ckpt', path)
        tmp = f'{name}.tmp'
        tmp_path = osp.join(self.out_dir, tmp)
        try:
            runner.save_checkpoint(
                self.out_dir,
                tmp,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args,
            )
        except BaseException as err:
            runner.message_hub.update_info('last_ckpt', previous)
            if is_main_process():
                _remove(tmp_path)
            if isinstance(err, OSError) and err.errno in DISK_FULL:
                raise disk_full_error(err, path, previous) from err
            raise
        if not is_main_process():
            return path
        # a folder is a sharded checkpoint (DeepSpeed, FSDP): moved as a whole, unchecked
        if not osp.isdir(tmp_path) and not is_intact_checkpoint(tmp_path):
            runner.message_hub.update_info('last_ckpt', previous)
            _remove(tmp_path)
            raise RunError(
                f'the checkpoint written to {tmp_path} does not read back (disk full or '
                f'failing?); it was removed and the previous checkpoints are kept '
                f'({previous or "none yet"})'
            )
        try:
            _replace_durably(tmp_path, path)
            self.last_ckpt = path
            write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'), path)
        except OSError as err:
            runner.message_hub.update_info('last_ckpt', previous)
            if err.errno in DISK_FULL:
                _remove(tmp_path)
                raise disk_full_error(err, path, previous) from err
            raise RunError(
                f'could not move the new checkpoint into place ({err}); the previous '
                f'checkpoints are kept ({previous or "none yet"}); the new one is {tmp_path}'
            ) from err
        return path


def install_safe_checkpoint_hook() -> None:
    """Make ``type='CheckpointHook'`` build :class:`SafeCheckpointHook` (idempotent).

    The class is registered under both names in mmengine's root ``HOOKS`` registry, which the
    mmdet, mmseg and mmpretrain registries fall back to.
    """
    HOOKS.register_module(name='SafeCheckpointHook', module=SafeCheckpointHook, force=True)
    HOOKS.register_module(name='CheckpointHook', module=SafeCheckpointHook, force=True)
