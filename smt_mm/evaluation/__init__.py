"""Evaluation metrics of smt_mm, registered in mmengine's root ``METRICS`` registry."""

from .seg_metrics import CheckedIoUMetric

__all__ = ['CheckedIoUMetric']
