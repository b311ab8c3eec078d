"""Runner extensions of smt_mm: hooks registered in mmengine's root ``HOOKS`` registry."""

from .checkpoint_hook import SafeCheckpointHook, install_safe_checkpoint_hook
from .errors import RunError
from .hooks import SMTCheckpointHook, TrainDataCheckHook
from .signals import Stopped, end_with_parent, end_workers_with_runner, stop_on_signals
from .workdir import WorkDirLock, find_resume_checkpoint, is_intact_checkpoint

__all__ = [
    'RunError',
    'SMTCheckpointHook',
    'SafeCheckpointHook',
    'Stopped',
    'TrainDataCheckHook',
    'WorkDirLock',
    'end_with_parent',
    'end_workers_with_runner',
    'find_resume_checkpoint',
    'install_safe_checkpoint_hook',
    'is_intact_checkpoint',
    'stop_on_signals',
]
