"""Pictures of predictions for the demos."""

from .detection import draw_detection_example
from .segmentation import colorize, draw_segmentation_example

__all__ = ['colorize', 'draw_detection_example', 'draw_segmentation_example']
