"""Helpers of the models: checkpoint conversion."""

from .ckpt_convert import convert_official_smt

__all__ = ['convert_official_smt']
