"""Pictures of predictions for the demos."""

from .example import draw_example
from .segmentation import colorize

__all__ = ['colorize', 'draw_example']
