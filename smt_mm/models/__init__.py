"""Models of smt_mm: the SMT backbone and its checkpoint utilities."""

from . import backbones, utils  # noqa: F401
