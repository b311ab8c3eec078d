"""Evaluation metrics of smt_mm, registered in mmengine's root ``METRICS`` registry.

:class:`CheckedIoUMetric` extends mmseg's metric: it exists only when mmseg is installed.
"""

from ..utils.compat import toolbox_available

__all__: list[str] = []
if toolbox_available('mmsegmentation'):
    from .seg_metrics import CheckedIoUMetric

    __all__ += ['CheckedIoUMetric']
