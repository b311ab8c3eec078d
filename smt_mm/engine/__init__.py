"""Runner extensions of smt_mm: hooks registered in mmengine's root ``HOOKS`` registry."""

from .checkpoint_hook import SafeCheckpointHook, install_safe_checkpoint_hook
from .errors import RunError
from .hooks import SMTCheckpointHook, TrainDataCheckHook
from .resume import ExactResumeHook
from .workdir import WorkDirLock, find_resume_checkpoint, is_intact_checkpoint

__all__ = [
    'ExactResumeHook',
    'RunError',
    'SMTCheckpointHook',
    'SafeCheckpointHook',
    'TrainDataCheckHook',
    'WorkDirLock',
    'find_resume_checkpoint',
    'install_safe_checkpoint_hook',
    'is_intact_checkpoint',
]
