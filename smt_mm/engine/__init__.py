"""Runner extensions of smt_mm: hooks (in the root ``HOOKS`` registry), work dirs, signals."""

from ..utils.errors import RunError
from .checkpoint_hook import SafeCheckpointHook, install_safe_checkpoint_hook
from .hooks import SMTCheckpointHook
from .resume import ExactResumeHook
from .signals import (
    Stopped,
    end_with_parent,
    end_workers_now,
    end_workers_with_runner,
    stop_on_signals,
)
from .workdir import WorkDirLock, find_resume_checkpoint, is_intact_checkpoint

__all__ = [
    'ExactResumeHook',
    'RunError',
    'SMTCheckpointHook',
    'SafeCheckpointHook',
    'Stopped',
    'WorkDirLock',
    'end_with_parent',
    'end_workers_now',
    'end_workers_with_runner',
    'find_resume_checkpoint',
    'install_safe_checkpoint_hook',
    'is_intact_checkpoint',
    'stop_on_signals',
]
