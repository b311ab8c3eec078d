"""Argument types shared by the command-line tools."""

import argparse


def parse_size(text: str) -> tuple[int, int, int]:
    """Parse ``HxW`` or ``HxWxBATCH`` (height first) into ``(height, width, batch)``.

    Args:
        text (str): E.g. ``'800x1344'`` or ``'800x1344x2'``; batch 1 when left out.

    Returns:
        tuple[int, int, int]: Height, width and batch.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not two or three positive integers.
    """
    try:
        parts = [int(part) for part in text.lower().split('x')]
    except ValueError:
        parts = []
    if len(parts) == 2:
        parts.append(1)
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f'size must be HxW or HxWxBATCH, got {text!r}')
    return parts[0], parts[1], parts[2]
