"""Pictures that explain themselves: the demos' predictions and ``--show-dir``'s."""

from .example import draw_example, example_sheet
from .segmentation import colorize

__all__ = ['colorize', 'draw_example', 'example_sheet']
