"""Small helpers of the models: checks of the images that reach the backbone and of arguments."""

from .args import check_range
from .inputs import MIN_INPUT_SIZE, check_input, check_input_size, warn_non_finite

__all__ = ['MIN_INPUT_SIZE', 'check_input', 'check_input_size', 'check_range', 'warn_non_finite']
