"""Checks of the images that reach the SMT backbone, for the places where data enters.

:func:`check_input` is the full check. Its finite-value scan reads a result back to Python (on
a GPU, a host-device synchronisation), so :class:`~smt_mm.models.backbones.SMT` runs only the
size check on every forward, and the scan only when built with ``check_finite=True``; the tools
that feed images in (demo, test, visualisers) call this function once per input instead.
"""

import warnings

import torch

from ...utils.compat import is_compiling

#: The smallest image side: the stem's stride-2 convolution halves 3 px to 2, which its
#: 2x2 stride-2 convolution needs.
MIN_INPUT_SIZE = 3


def check_input_size(x: torch.Tensor, min_size: int = MIN_INPUT_SIZE) -> None:
    """Reject images the SMT stem cannot embed (reads shapes only, never the values).

    Args:
        x (torch.Tensor): Images ``(..., H, W)``.
        min_size (int): The smallest height and width. Defaults to :data:`MIN_INPUT_SIZE`.

    Raises:
        ValueError: If H or W is smaller than ``min_size``.
    """
    height, width = x.shape[-2:]
    if min(height, width) < min_size:
        raise ValueError(
            f'SMT needs images of at least {min_size}x{min_size} pixels (its patch embedding '
            f'downsamples 4x), got {height}x{width} (input shape {tuple(x.shape)}): resize or '
            'pad the input.'
        )


def warn_non_finite(x: torch.Tensor, stacklevel: int = 2) -> None:
    """Warn when images hold NaN or infinite values (a host-device sync on a GPU).

    Nothing is checked while tracing, scripting or compiling: the scan would become part of
    the graph.

    Args:
        x (torch.Tensor): Images.
        stacklevel (int): Passed to :func:`warnings.warn`. Defaults to 2 (the caller).
    """
    if torch.jit.is_tracing() or torch.jit.is_scripting() or is_compiling():
        return
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        warnings.warn(
            f'SMT input holds {int((~finite).sum())} NaN or infinite values of '
            f'{x.numel()}: every output becomes NaN (no detections, one class in '
            'segmentation). Check the images and the data_preprocessor mean/std.',
            stacklevel=stacklevel,
        )


def check_input(x: torch.Tensor, min_size: int = MIN_INPUT_SIZE) -> None:
    """Check images before they reach SMT: raise if too small, warn about NaN / Inf values.

    Call it where data enters (a batch after the data preprocessor), not in a training loop's
    inner step on a GPU: the finite-value scan synchronises with the device.

    Args:
        x (torch.Tensor): Images ``(B, C, H, W)``, normalised as the backbone sees them.
        min_size (int): The smallest height and width. Defaults to :data:`MIN_INPUT_SIZE`.

    Raises:
        ValueError: If H or W is smaller than ``min_size``.
    """
    check_input_size(x, min_size)
    warn_non_finite(x, stacklevel=3)
