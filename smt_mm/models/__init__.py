"""Models of smt_mm: the SMT backbone, its checkpoint logic and the mask-aware TTA model."""

from . import backbones, checkpoint, det_tta, utils  # noqa: F401
