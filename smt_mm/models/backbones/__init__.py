"""Backbones registered in mmengine's root ``MODELS`` registry."""

from .smt import SMT

__all__ = ['SMT']
