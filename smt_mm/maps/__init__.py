"""What SMT computes inside: modulation maps, attention, effective receptive fields, their grids."""

from .modulation import ModulationRecorder
from .receptive_field import contribution_areas, effective_receptive_field

__all__ = ['ModulationRecorder', 'contribution_areas', 'effective_receptive_field']
