"""Runner extensions of smt_mm: hooks registered in mmengine's root ``HOOKS`` registry.

:class:`CheckedCocoDataset` (in the root ``DATASETS`` registry) extends mmdet's dataset: it
exists only when mmdet is installed.
"""

from ..utils.compat import toolbox_available
from .checkpoint_hook import SafeCheckpointHook, install_safe_checkpoint_hook
from .errors import RunError
from .hooks import (
    SMTCheckpointHook,
    TrainDataCheckHook,
    check_label_files,
    check_num_classes,
    unwrap_model,
)
from .image_loading import CheckedLoadImageFromFile, ImageReadError, install_checked_image_loading
from .resume import ExactResumeHook
from .signals import Stopped, end_with_parent, end_workers_with_runner, stop_on_signals
from .workdir import WorkDirLock, find_resume_checkpoint, is_intact_checkpoint

__all__ = [
    'CheckedLoadImageFromFile',
    'ExactResumeHook',
    'ImageReadError',
    'RunError',
    'SMTCheckpointHook',
    'SafeCheckpointHook',
    'Stopped',
    'TrainDataCheckHook',
    'WorkDirLock',
    'end_with_parent',
    'end_workers_with_runner',
    'check_label_files',
    'check_num_classes',
    'find_resume_checkpoint',
    'install_checked_image_loading',
    'install_safe_checkpoint_hook',
    'is_intact_checkpoint',
    'stop_on_signals',
    'unwrap_model',
]

if toolbox_available('mmdet'):
    from .annotations import AnnotationReport, CheckedCocoDataset

    __all__ += ['AnnotationReport', 'CheckedCocoDataset']
