"""Small helpers of the models: checks of the images that reach the backbone."""

from .inputs import MIN_INPUT_SIZE, check_input, check_input_size, warn_non_finite

__all__ = ['MIN_INPUT_SIZE', 'check_input', 'check_input_size', 'warn_non_finite']
