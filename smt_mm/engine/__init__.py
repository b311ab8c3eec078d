"""Runner extensions of smt_mm: hooks registered in mmengine's root ``HOOKS`` registry."""

from .hooks import SMTCheckpointHook

__all__ = ['SMTCheckpointHook']
