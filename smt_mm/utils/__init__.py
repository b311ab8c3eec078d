"""The bottom layer of smt_mm: stack checks and argument types; imports nothing of smt_mm.

Checkpoint logic lives in :mod:`smt_mm.models.checkpoint`.
"""

from .compat import SUPPORTED_VERSIONS, StackVersionError, check_stack, stack_summary

__all__ = ['SUPPORTED_VERSIONS', 'StackVersionError', 'check_stack', 'stack_summary']
