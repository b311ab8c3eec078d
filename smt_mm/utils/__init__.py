"""Stack checks and stack fixes used by every part of smt_mm."""

from .checkpoint import (
    MMENGINE_SAFE_GLOBALS,
    InvalidCheckpointError,
    UnsafeCheckpointError,
    check_checkpoint_file,
    register_safe_loader,
    safe_torch_load,
    trust_checkpoint,
)
from .compat import SUPPORTED_VERSIONS, StackVersionError, check_stack, stack_summary

__all__ = [
    'InvalidCheckpointError',
    'MMENGINE_SAFE_GLOBALS',
    'SUPPORTED_VERSIONS',
    'StackVersionError',
    'UnsafeCheckpointError',
    'check_checkpoint_file',
    'check_stack',
    'register_safe_loader',
    'safe_torch_load',
    'stack_summary',
    'trust_checkpoint',
]
