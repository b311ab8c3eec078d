"""Helpers of the models: checkpoint conversion and inspection."""

from .ckpt_convert import convert_official_checkpoint, convert_official_smt, official_model_kind

__all__ = ['convert_official_checkpoint', 'convert_official_smt', 'official_model_kind']
