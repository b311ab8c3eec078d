"""What the toy dataset writers share: argument checks, the scenes of a split, the split loop."""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np

from .shapes import ShapeInstance, sample_scene


def check_categories(categories: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``categories`` is non-empty and distinct."""
    if not categories or len(set(categories)) != len(categories):
        raise ValueError(f'categories must be non-empty and distinct, got {list(categories)}')


def check_split(splits: dict[str, int], split: str, count: int, count_name: str) -> None:
    """Raise ``ValueError`` if ``split`` is not a key of ``splits`` or ``count`` < 1."""
    if split not in splits:
        raise ValueError(f'unknown split {split!r}; choose from {list(splits)}')
    if count < 1:
        raise ValueError(f'{count_name} must be >= 1, got {count}')


def split_scenes(
    seed: int, split_id: int, num_images: int, empty_first: bool = False, **scene: Any
) -> Iterator[tuple[str, np.ndarray, list[ShapeInstance]]]:
    """Draw the scenes of one split, one after the other.

    Scene ``i`` is drawn by :func:`~smt_mm.toydata.shapes.sample_scene` from
    ``np.random.default_rng([seed, split_id, i])``, so a dataset is the same on every machine and
    for every ``num_images`` (a larger split starts with the scenes of a smaller one).

    Args:
        seed (int): The dataset seed.
        split_id (int): The split's seed offset.
        num_images (int): The number of scenes.
        empty_first (bool): Draw the first scene without objects. Defaults to False.
        **scene: Keyword arguments of :func:`~smt_mm.toydata.shapes.sample_scene`.

    Yields:
        tuple[str, np.ndarray, list[ShapeInstance]]: The file name without extension
        (``000000``, ...), the BGR image and its instances.
    """
    for index in range(num_images):
        rng = np.random.default_rng([seed, split_id, index])
        # a range like the other scenes': drawing the count keeps the generator's sequence
        options = dict(scene, num_objects=(0, 0)) if empty_first and index == 0 else scene
        image, instances = sample_scene(rng, **options)
        yield f'{index:06d}', image, instances


def write_jpeg(path: str, image: np.ndarray) -> None:
    """Write a BGR image as a JPEG of quality 95."""
    cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 95])


def generate_splits(
    make_split: Callable[..., object],
    splits: Sequence[str],
    written_path: Callable[[str, str], str],
    out_dir: str,
    num_train: int = 200,
    num_val: int = 50,
    **options: Any,
) -> dict[str, str]:
    """Write the training and validation splits of one dataset with the same options.

    A dataset's ``generate_*`` function is this one with the first three arguments bound.

    Args:
        make_split (Callable): The dataset's ``make_*_split(out_dir, split, count, **options)``.
        splits (Sequence[str]): The names of the training and validation splits.
        written_path (Callable[[str, str], str]): ``(out_dir, split) -> path`` of what to
            report for a split.
        out_dir (str): The dataset root (created if needed).
        num_train (int): Training images (per class for classification). Defaults to 200.
        num_val (int): Validation images (per class for classification). Defaults to 50.
        **options: Keyword arguments of ``make_split`` (image size, seed, categories, ...).

    Returns:
        dict[str, str]: ``written_path`` of each split, keyed by split.
    """
    written = {}
    for split, count in zip(splits, (num_train, num_val), strict=True):
        make_split(out_dir, split, count, **options)
        written[split] = written_path(out_dir, split)
    return written
