"""Deterministic scenes of simple shapes, the primitives behind every toy dataset.

A scene is a textured, noisy background with a few filled shapes drawn on it in z-order: a shape
drawn later hides the parts of earlier shapes that it covers. Each instance keeps its category,
its full outline (a polygon) and its *visible* mask, so the same scene gives a COCO instance
annotation (:mod:`smt_mm.toydata.coco`), a semantic label map (:func:`render_label_map`) or a
one-object classification image.

Everything is drawn with numpy and OpenCV from a :class:`numpy.random.Generator`, so a seed fixes
the result bit for bit. The category of an object is decided by its outline only; colours are
random, so a model has to learn shapes, not colours.

Example:
    >>> import numpy as np
    >>> from smt_mm.toydata.shapes import sample_scene
    >>> image, instances = sample_scene(np.random.default_rng(0), 256, 320, num_objects=4)
    >>> image.shape, image.dtype
    ((256, 320, 3), dtype('uint8'))
    >>> all(inst.mask.shape == (256, 320) for inst in instances)
    True
"""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Every shape this module can draw, in a fixed order.
SHAPE_CATEGORIES: tuple[str, ...] = ('circle', 'rectangle', 'triangle', 'star', 'hexagon', 'cross')

#: The categories the toy datasets use unless told otherwise.
DEFAULT_CATEGORIES: tuple[str, ...] = ('circle', 'rectangle', 'triangle', 'star')

#: The hue (OpenCV scale, 0-180) of each shape with ``class_colors=True``: 30 degrees apart.
CATEGORY_HUES: dict[str, int] = {name: 30 * i for i, name in enumerate(SHAPE_CATEGORIES)}

# Fixed-point precision for cv2.fillPoly: outlines are drawn with 1/16 pixel accuracy.
_SHIFT = 4


@dataclass
class ShapeInstance:
    """One object of a scene.

    Attributes:
        category (str): The shape's name, one of :data:`SHAPE_CATEGORIES`.
        label (int): The index of ``category`` in the ``categories`` passed to
            :func:`sample_scene`.
        polygon (np.ndarray): The full outline before occlusion, float32 of shape (N, 2) in
            (x, y) pixel coordinates.
        mask (np.ndarray): The visible pixels after occlusion by later objects, bool of shape
            (H, W).
    """

    category: str
    label: int
    polygon: np.ndarray
    mask: np.ndarray

    @property
    def area(self) -> int:
        """int: The number of visible pixels."""
        return int(self.mask.sum())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """tuple[int, int, int, int]: The visible pixels' box as ``(x, y, w, h)`` (COCO)."""
        ys, xs = np.nonzero(self.mask)
        x0, y0 = int(xs.min()), int(ys.min())
        return x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return points @ np.array([[cos, sin], [-sin, cos]])


def _star(num_points: int, inner_ratio: float) -> np.ndarray:
    angles = np.arange(2 * num_points) * np.pi / num_points - np.pi / 2
    radii = np.where(np.arange(2 * num_points) % 2 == 0, 1.0, inner_ratio)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def shape_polygon(
    rng: np.random.Generator, category: str, center: tuple[float, float], size: float
) -> np.ndarray:
    """Draw the outline of one randomly deformed and rotated shape.

    Args:
        rng (np.random.Generator): The source of randomness.
        category (str): One of :data:`SHAPE_CATEGORIES`.
        center (tuple[float, float]): The shape's centre ``(x, y)`` in pixels.
        size (float): The diameter of the shape's bounding circle in pixels.

    Returns:
        np.ndarray: float32 (N, 2) vertices ``(x, y)`` in drawing order.

    Raises:
        ValueError: If ``category`` is unknown; the message lists the valid names.
    """
    if category == 'circle':
        # Slightly elliptic, so that circles are not all identical; still clearly round.
        angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        aspect = rng.uniform(0.85, 1.0)
        unit = np.stack([np.cos(angles), aspect * np.sin(angles)], axis=1)
    elif category == 'rectangle':
        aspect = rng.uniform(0.45, 1.0)
        half_h = aspect / np.sqrt(1 + aspect**2)
        half_w = 1 / np.sqrt(1 + aspect**2)
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        unit = np.array(corners) * np.array([half_w, half_h])
    elif category == 'triangle':
        angles = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3]) + rng.uniform(-0.25, 0.25, 3)
        unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif category == 'star':
        unit = _star(5, rng.uniform(0.38, 0.5))
    elif category == 'hexagon':
        angles = np.arange(6) * np.pi / 3
        unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    elif category == 'cross':
        arm = rng.uniform(0.25, 0.4)
        unit = np.array(
            [
                [-arm, -1], [arm, -1], [arm, -arm], [1, -arm], [1, arm], [arm, arm],
                [arm, 1], [-arm, 1], [-arm, arm], [-1, arm], [-1, -arm], [-arm, -arm],
            ]
        ) / np.hypot(1, arm)  # fmt: skip
    else:
        raise ValueError(f'unknown shape category {category!r}; choose from {SHAPE_CATEGORIES}')
    points = _rotate(unit, rng.uniform(0, 2 * np.pi)) * (size / 2) + np.asarray(center)
    return points.astype(np.float32)


def polygon_mask(polygon: np.ndarray, height: int, width: int) -> np.ndarray:
    """Rasterise a polygon.

    Args:
        polygon (np.ndarray): (N, 2) vertices ``(x, y)`` in pixels.
        height (int): The mask height.
        width (int): The mask width.

    Returns:
        np.ndarray: bool (height, width), True inside the polygon.
    """
    mask = np.zeros((height, width), np.uint8)
    fixed = np.round(np.asarray(polygon) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [fixed], (1,), lineType=cv2.LINE_8, shift=_SHIFT)
    return mask.astype(bool)


def mask_to_polygons(mask: np.ndarray, min_points: int = 3) -> list[np.ndarray]:
    """Trace the outer outlines of a binary mask, one polygon per connected part.

    Args:
        mask (np.ndarray): bool or uint8 (H, W) mask.
        min_points (int): Outlines with fewer vertices are dropped (COCO needs at least 3).
            Defaults to 3.

    Returns:
        list[np.ndarray]: float32 (N, 2) polygons ``(x, y)``, possibly empty.
    """
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return [c.reshape(-1, 2).astype(np.float32) for c in contours if len(c) >= min_points]


def textured_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Draw a smooth random colour field with stripes and pixel noise.

    Args:
        rng (np.random.Generator): The source of randomness.
        height (int): The image height.
        width (int): The image width.

    Returns:
        np.ndarray: uint8 (height, width, 3) BGR image.
    """
    coarse = rng.uniform(40, 215, size=(4, 4, 3)).astype(np.float32)
    image: np.ndarray = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    # Faint straight stripes give the background edges that are not objects.
    for _ in range(rng.integers(2, 6)):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        shade = float(rng.uniform(-35, 35))
        stripe = np.zeros((height, width), np.uint8)
        cv2.line(stripe, p1, p2, (1,), thickness=int(rng.integers(1, 4)))
        image += shade * stripe[..., None]
    image += rng.normal(0, 8, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def contrasting_color(rng: np.random.Generator, reference: np.ndarray) -> np.ndarray:
    """A random colour at least a fixed distance from ``reference`` (BGR)."""
    for _ in range(20):
        color = rng.uniform(0, 255, size=3)
        if np.linalg.norm(color - reference) > 110:
            return color
    return 255.0 - reference


def _category_color(rng: np.random.Generator, category: str) -> np.ndarray:
    """A saturated BGR colour of the category's hue, with random saturation and brightness."""
    hsv = np.array(
        [[[CATEGORY_HUES[category], rng.integers(170, 256), rng.integers(150, 256)]]], np.uint8
    )
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)


def _paint(
    rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, color: np.ndarray | None = None
) -> None:
    """Fill ``mask`` of ``image`` in place with a noisy ``color`` (default: one that stands out)."""
    if color is None:
        reference = image[mask].reshape(-1, 3).mean(axis=0)
        color = contrasting_color(rng, reference)
    # A linear shading across the object plus pixel noise: a surface, not a flat sticker.
    ys, xs = np.nonzero(mask)
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-6
    span = max(int(np.ptp(xs)), int(np.ptp(ys)), 1)
    shading = ((xs - xs.mean()) * direction[0] + (ys - ys.mean()) * direction[1]) / span * 40
    pixels = color[None] + shading[:, None] + rng.normal(0, 6, size=(len(xs), 3))
    image[ys, xs] = np.clip(pixels, 0, 255).astype(np.uint8)


def sample_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    num_objects: int | tuple[int, int] = (1, 6),
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    size_range: tuple[float, float] = (0.1, 0.45),
    min_visible: float = 0.6,
    max_tries: int = 30,
    textured: bool = True,
    class_colors: bool = False,
) -> tuple[np.ndarray, list[ShapeInstance]]:
    """Draw a scene of randomly placed, possibly overlapping shapes.

    Objects are drawn one after the other; a new object hides what it covers of the earlier ones.
    A placement is rejected when it would leave an earlier object (or itself) with less than
    ``min_visible`` of its area visible, so every drawn object stays recognisable and is
    returned: nothing in the picture is unlabelled.

    Args:
        rng (np.random.Generator): The source of randomness; the same generator state gives
            the same scene.
        height (int): The image height.
        width (int): The image width.
        num_objects (int | tuple[int, int]): The number of objects, or an inclusive
            ``(min, max)`` range to draw it from. 0 gives an empty scene. Fewer objects are
            returned when no valid placement is found within ``max_tries``.
            Defaults to (1, 6).
        categories (Sequence[str]): The categories to draw from, uniformly; ``label`` of an
            instance indexes this sequence. Defaults to :data:`DEFAULT_CATEGORIES`.
        size_range (tuple[float, float]): The range of object sizes (bounding-circle
            diameter) as fractions of ``min(height, width)``, drawn log-uniformly.
            Defaults to (0.1, 0.45).
        min_visible (float): The smallest visible fraction of an object's area.
            Defaults to 0.6.
        max_tries (int): Placement attempts per object. Defaults to 30.
        textured (bool): Draw on :func:`textured_background`; False gives a flat background
            of one random colour (an easier scene, learnt sooner from scratch).
            Defaults to True.
        class_colors (bool): Paint each shape in the hue of its category
            (:data:`CATEGORY_HUES`, random saturation and brightness) on a grey background
            (flat or textured), so that every pixel carries a cue to its class; by default the
            colours are random and only the outline tells the categories apart. Defaults to
            False.

    Returns:
        tuple[np.ndarray, list[ShapeInstance]]: The uint8 (height, width, 3) BGR image and the
        instances in z-order (back to front).

    Raises:
        ValueError: If a category is unknown or ``categories`` is empty.
    """
    if not categories:
        raise ValueError('categories must not be empty')
    unknown = [c for c in categories if c not in SHAPE_CATEGORIES]
    if unknown:
        raise ValueError(f'unknown shape categories {unknown}; choose from {SHAPE_CATEGORIES}')
    if isinstance(num_objects, int):
        count = num_objects
    else:
        count = int(rng.integers(num_objects[0], num_objects[1] + 1))

    if textured:
        image = textured_background(rng, height, width)
    else:
        flat = rng.uniform(40, 215, size=3)
        image = np.broadcast_to(flat.astype(np.uint8), (height, width, 3)).copy()
    if class_colors:
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None], 3, axis=-1)
    short = min(height, width)
    log_low, log_high = np.log(size_range[0] * short), np.log(size_range[1] * short)
    instances: list[ShapeInstance] = []
    full_areas: list[int] = []
    for _ in range(count):
        label = int(rng.integers(len(categories)))
        for _ in range(max_tries):
            size = float(np.exp(rng.uniform(log_low, log_high)))
            # Keep at least the centre 70% of the shape inside the image.
            margin = 0.35 * size
            center = (rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
            polygon = shape_polygon(rng, categories[label], center, size)
            mask = polygon_mask(polygon, height, width)
            area = int(mask.sum())
            if area < 16:
                continue
            remaining = [inst.mask & ~mask for inst in instances]
            if all(
                rest.sum() >= min_visible * full
                for rest, full in zip(remaining, full_areas, strict=True)
            ):
                break
        else:
            continue
        for inst, rest in zip(instances, remaining, strict=True):
            inst.mask = rest
        color = _category_color(rng, categories[label]) if class_colors else None
        _paint(rng, image, mask, color)
        instances.append(ShapeInstance(categories[label], label, polygon, mask))
        full_areas.append(area)
    return image, instances


def render_label_map(
    instances: Sequence[ShapeInstance],
    height: int,
    width: int,
    background: int = 0,
    offset: int = 1,
) -> np.ndarray:
    """Paint a semantic label map from the visible masks of a scene.

    Args:
        instances (Sequence[ShapeInstance]): The scene's instances.
        height (int): The map height.
        width (int): The map width.
        background (int): The value of pixels that no object covers. Defaults to 0.
        offset (int): Added to each instance's ``label``, e.g. 1 to keep 0 for background.
            Defaults to 1.

    Returns:
        np.ndarray: uint8 (height, width) label map.
    """
    label_map = np.full((height, width), background, np.uint8)
    for inst in instances:
        label_map[inst.mask] = inst.label + offset
    return label_map
