"""Pictures that read without the code: upscaled panels with titles, labels, a legend, a caption.

Small images (the toy datasets' 128 px) are enlarged with nearest-neighbour interpolation to at
least :data:`MIN_PANEL` pixels a side before anything is drawn on them, so that text stays
legible. Labels are placed where they do not leave the panel and do not cover each other.
Everything here works on BGR ``uint8`` arrays (OpenCV's order); :class:`Sheet` keeps what was
drawn (titles, legend entries, label boxes) beside the pixels, so that callers and tests can
read the layout back.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

#: The smallest side, in pixels, of a drawn panel.
MIN_PANEL = 512
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Font scale and stroke of titles, captions and legend names; of labels on objects.
TEXT_SCALE, TEXT_THICKNESS = 0.7, 2
LABEL_SCALE, LABEL_THICKNESS = 0.6, 1
#: Padding (pixels) around text, and the gap between panels.
PAD, GAP = 6, 8

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)
Label = tuple[str, Box]  # the text and where it is


@dataclass
class Sheet:
    """A composed picture and what it shows.

    Attributes:
        image (np.ndarray): The BGR ``uint8`` picture.
        titles (list[str]): The panel titles, left to right.
        panel_size (tuple[int, int]): ``(height, width)`` of one panel, in pixels.
        legend (list[str]): The legend's entries, in order (empty: no legend).
        labels (list[list[Label]]): Per panel, the labels drawn on objects, in panel pixels.
        caption (str): The text under the panels (empty: none).
    """

    image: np.ndarray
    titles: list[str]
    panel_size: tuple[int, int]
    legend: list[str] = field(default_factory=list)
    labels: list[list['Label']] = field(default_factory=list)
    caption: str = ''


def upscale(image: np.ndarray, min_size: int = MIN_PANEL) -> tuple[np.ndarray, int]:
    """Enlarge an image by a whole factor so that its smaller side is at least ``min_size``.

    Args:
        image (np.ndarray): ``(H, W)`` or ``(H, W, C)`` array.
        min_size (int): The smallest side wanted. Defaults to :data:`MIN_PANEL`.

    Returns:
        tuple[np.ndarray, int]: The image (nearest-neighbour: every pixel a block of equal
        values; unchanged when already large enough) and the factor.
    """
    factor = max(1, math.ceil(min_size / min(image.shape[:2])))
    if factor == 1:
        return image, 1
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1), factor


def text_color(background: Sequence[int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on a BGR ``background``."""
    b, g, r = (int(c) for c in background[:3])
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


def _text_box_size(text: str, scale: float, thickness: int) -> tuple[int, int]:
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    return width + 2 * PAD, height + baseline + 2 * PAD


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_label(
    size: tuple[int, int], obj: Box, canvas: tuple[int, int], taken: Sequence[Box]
) -> Box:
    """Where a label of ``size`` goes: at an object's box, inside the canvas, off other labels.

    Tried in turn: above the object's top-left corner (where there is room), inside its top
    edge, below its bottom edge, then lower and lower; each position is shifted into the
    canvas. The first that covers no ``taken`` box wins (the first of all if none is free).

    Args:
        size (tuple[int, int]): ``(width, height)`` of the label.
        obj (Box): The object's box ``(x0, y0, x1, y1)`` in canvas pixels.
        canvas (tuple[int, int]): ``(height, width)`` of the canvas.
        taken (Sequence[Box]): Labels already placed.

    Returns:
        Box: The label's box, inside the canvas whenever the label fits into it.
    """
    width, height = size
    rows, cols = canvas
    x = min(max(obj[0], 0), max(cols - width, 0))
    above = obj[1] - height
    tops = ([above] if above >= 0 else []) + [obj[1], obj[3]]
    tops += [above + k * height for k in range(2, rows // max(height, 1) + 2)]
    candidates = []
    for top in tops:
        y = min(max(top, 0), max(rows - height, 0))
        candidates.append((x, y, x + width, y + height))
    for box in candidates:
        if not any(_overlaps(box, other) for other in taken):
            return box
    return candidates[0]


def draw_label(canvas: np.ndarray, text: str, box: Box, color: Sequence[int]) -> None:
    """Write ``text`` on a filled ``color`` box (``canvas`` changed in place)."""
    x0, y0, x1, y1 = box
    cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), tuple(int(c) for c in color), cv2.FILLED)
    (_, height), baseline = cv2.getTextSize(text, FONT, LABEL_SCALE, LABEL_THICKNESS)
    cv2.putText(
        canvas, text, (x0 + PAD, y1 - PAD - baseline), FONT, LABEL_SCALE, text_color(color),
        LABEL_THICKNESS, cv2.LINE_AA,
    )  # fmt: skip


def draw_objects(
    panel: np.ndarray, boxes: np.ndarray, texts: Sequence[str], colors: Sequence[Sequence[int]]
) -> list[Label]:
    """Outline objects and label each, labels inside the panel and apart where there is room.

    Args:
        panel (np.ndarray): BGR canvas, changed in place.
        boxes (np.ndarray): ``(N, 4)`` boxes ``x0, y0, x1, y1`` in panel pixels.
        texts (Sequence[str]): A label per box.
        colors (Sequence): A BGR colour per box.

    Returns:
        list[Label]: The labels' texts and boxes.
    """
    thickness = max(2, panel.shape[0] // 256)
    for box, color in zip(boxes, colors, strict=True):
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        cv2.rectangle(panel, (x0, y0), (x1, y1), tuple(int(c) for c in color), thickness)
    placed: list[Box] = []
    for box, text, color in zip(boxes, texts, colors, strict=True):
        obj = tuple(int(round(float(v))) for v in box)
        size = _text_box_size(text, LABEL_SCALE, LABEL_THICKNESS)
        label = place_label(size, obj, panel.shape[:2], placed)  # type: ignore[arg-type]
        draw_label(panel, text, label, color)
        placed.append(label)
    return list(zip(texts, placed, strict=True))


def blend(image: np.ndarray, mask: np.ndarray, color: Sequence[int], alpha: float = 0.45) -> None:
    """Tint the pixels of a boolean ``mask`` with ``color`` (``image`` changed in place)."""
    tint = np.array(color, np.float32)
    image[mask] = ((1 - alpha) * image[mask] + alpha * tint).astype(np.uint8)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f'{lines[-1]} {word}' if lines else word
        if lines and _text_box_size(candidate, TEXT_SCALE, TEXT_THICKNESS)[0] <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _text_strip(lines: Sequence[str], width: int) -> np.ndarray:
    """White strip with black text lines, left-aligned."""
    line_height = _text_box_size('Ag', TEXT_SCALE, TEXT_THICKNESS)[1]
    strip = np.full((line_height * len(lines), width, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        baseline = cv2.getTextSize(line, FONT, TEXT_SCALE, TEXT_THICKNESS)[1]
        y = (k + 1) * line_height - PAD - baseline
        cv2.putText(strip, line, (PAD, y), FONT, TEXT_SCALE, (0, 0, 0), TEXT_THICKNESS, cv2.LINE_AA)
    return strip


def legend_strip(entries: Sequence[tuple[str, Sequence[int]]], width: int) -> np.ndarray:
    """A white strip of colour swatches, each followed by its name, wrapped to ``width``.

    Args:
        entries (Sequence): ``(name, BGR colour)`` pairs.
        width (int): The strip's width in pixels.

    Returns:
        np.ndarray: BGR ``uint8`` strip.
    """
    _, line_height = _text_box_size('Ag', TEXT_SCALE, TEXT_THICKNESS)
    swatch = line_height - 2 * PAD
    rows: list[list[tuple[int, str, Sequence[int]]]] = [[]]
    x = PAD
    for name, color in entries:
        item = swatch + PAD + _text_box_size(name, TEXT_SCALE, TEXT_THICKNESS)[0] + 2 * PAD
        if rows[-1] and x + item > width:
            rows.append([])
            x = PAD
        rows[-1].append((x, name, color))
        x += item
    strip = np.full((line_height * len(rows), width, 3), 255, np.uint8)
    for k, row in enumerate(rows):
        top = k * line_height + PAD
        for x, name, color in row:
            cv2.rectangle(strip, (x, top), (x + swatch, top + swatch), tuple(map(int, color)), -1)
            cv2.rectangle(strip, (x, top), (x + swatch, top + swatch), (0, 0, 0), 1)
            baseline = cv2.getTextSize(name, FONT, TEXT_SCALE, TEXT_THICKNESS)[1]
            cv2.putText(
                strip, name, (x + swatch + PAD, top + swatch - baseline + PAD // 2), FONT,
                TEXT_SCALE, (0, 0, 0), TEXT_THICKNESS, cv2.LINE_AA,
            )  # fmt: skip
    return strip


def compose(
    panels: Sequence[tuple[str, np.ndarray]],
    legend: Sequence[tuple[str, Sequence[int]]] = (),
    caption: str = '',
    labels: Sequence[list[Label]] = (),
) -> Sheet:
    """Put equally sized panels side by side under their titles, a legend and a caption below.

    Args:
        panels (Sequence[tuple[str, np.ndarray]]): ``(title, BGR image)`` pairs, one size.
        legend (Sequence): ``(name, BGR colour)`` entries; empty: no legend. Defaults to ().
        caption (str): Text under the panels, wrapped. Defaults to ''.
        labels (Sequence[list[Label]]): The labels of each panel, kept in the sheet.
            Defaults to ().

    Returns:
        Sheet: The picture and its layout.

    Raises:
        ValueError: If there is no panel or the panels differ in size.
    """
    if not panels:
        raise ValueError('compose needs at least one panel')
    sizes = {image.shape[:2] for _, image in panels}
    if len(sizes) > 1:
        raise ValueError(f'panels must have one size, got {sorted(sizes)}')
    height, width = panels[0][1].shape[:2]
    total = len(panels) * width + (len(panels) - 1) * GAP
    columns = []
    for k, (title, image) in enumerate(panels):
        column = np.concatenate([_text_strip([title], width), image])
        if k:
            columns.append(np.full((column.shape[0], GAP, 3), 255, np.uint8))
        columns.append(column)
    parts = [np.concatenate(columns, axis=1)]
    if legend:
        parts.append(legend_strip(legend, total))
    if caption:
        parts.append(_text_strip(_wrap(caption, total - 2 * PAD), total))
    return Sheet(
        image=np.concatenate(parts),
        titles=[title for title, _ in panels],
        panel_size=(height, width),
        legend=[name for name, _ in legend],
        labels=list(labels) or [[] for _ in panels],
        caption=caption,
    )


def median_index(scores: dict[int, float]) -> int:
    """The key whose score is the median (the lower of the two middle ones for an even count).

    Ties are broken by the key, so the choice is reproducible.

    Raises:
        ValueError: If ``scores`` is empty.
    """
    if not scores:
        raise ValueError('no image to choose from')
    ranked = sorted(scores, key=lambda key: (scores[key], key))
    return ranked[(len(ranked) - 1) // 2]
