"""Models of smt_mm: the SMT backbone, its checkpoint utilities and the mask-aware TTA model."""

from . import backbones, det_tta, utils  # noqa: F401
