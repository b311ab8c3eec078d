"""Pictures of predictions for the demos and ``--show-dir``; what SMT computes inside; ERFs."""

from .example import draw_example, example_sheet
from .modulation import ModulationRecorder
from .receptive_field import contribution_areas, effective_receptive_field
from .segmentation import colorize

__all__ = [
    'ModulationRecorder',
    'colorize',
    'contribution_areas',
    'draw_example',
    'effective_receptive_field',
    'example_sheet',
]
