"""Range checks of constructor arguments, so that a bad value fails when the model is built.

A value outside its range often builds and runs: ``drop_path_rate=1.5`` gives negative keep
probabilities and a NaN loss many iterations later, which then looks like a learning-rate
problem. :func:`check_range` names the argument, the range and the value instead.
"""

import math
from collections.abc import Iterable


def check_range(
    name: str,
    values: float | Iterable[float],
    low: float | None = None,
    high: float | None = None,
    high_inclusive: bool = False,
    low_inclusive: bool = True,
) -> None:
    """Refuse a number, or any of a sequence of numbers, outside ``[low, high)``.

    Args:
        name (str): The argument, as the user writes it (e.g. ``'drop_path_rate'``).
        values (float | Iterable[float]): The value or values.
        low (float, optional): The lower bound; None for none. Defaults to None.
        high (float, optional): The upper bound; None for none. Defaults to None.
        high_inclusive (bool): ``high`` itself is allowed. Defaults to False.
        low_inclusive (bool): ``low`` itself is allowed. Defaults to True.

    Raises:
        ValueError: If a value is not a finite number in the range; the message names the
            argument, the range and the value.
    """
    items = list(values) if isinstance(values, Iterable) else [values]
    for value in items:
        inside = isinstance(value, int | float) and math.isfinite(value)
        if inside and low is not None:
            inside = value >= low if low_inclusive else value > low
        if inside and high is not None:
            inside = value <= high if high_inclusive else value < high
        if not inside:
            interval = (
                f'{"[" if low_inclusive else "("}{"-inf" if low is None else low}, '
                f'{"inf" if high is None else high}{"]" if high_inclusive else ")"}'
            )
            shown = values if isinstance(values, Iterable) else value
            raise ValueError(f'{name} must be in {interval}, got {shown!r}.')
