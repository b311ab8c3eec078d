"""Labelled PNG grids: maps overlaid on their images; effective receptive fields side by side."""

import math
import os
import os.path as osp
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure  # no pyplot: no backend or global figure state is touched
from mmengine.visualization import Visualizer


def crop_to_image(
    feature: torch.Tensor, image_size: tuple[int, int], input_size: tuple[int, int]
) -> torch.Tensor:
    """Cut the part of a map that covers the image out of a map of a padded input.

    Args:
        feature (torch.Tensor): ``(h, w)`` map of an input of ``input_size``.
        image_size (tuple[int, int]): The image's ``(height, width)`` before padding.
        input_size (tuple[int, int]): The padded input's ``(height, width)``.

    Returns:
        torch.Tensor: The top-left part of the map that the image covers.
    """
    rows = math.ceil(feature.shape[0] * image_size[0] / input_size[0])
    cols = math.ceil(feature.shape[1] * image_size[1] / input_size[1])
    return feature[:rows, :cols]


def _save(fig: Figure, out_file: str) -> str:
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=fig.dpi, bbox_inches='tight')
    return out_file


def draw_map_grid(
    images: Sequence[np.ndarray],
    maps: Sequence[dict[str, torch.Tensor]],
    out_file: str,
    titles: Sequence[str] | None = None,
    points: Sequence[tuple[float, float] | None] | None = None,
    panel_inches: float = 1.6,
) -> str:
    """One row per image: the image, then each of its maps overlaid as a heat map.

    Args:
        images (Sequence[np.ndarray]): RGB uint8 images.
        maps (Sequence[dict[str, torch.Tensor]]): Per image, labelled ``(h, w)`` maps; each is
            stretched over the image and normalised to its own range (a jet heat map).
        out_file (str): The PNG to write (its folder is created).
        titles (Sequence[str], optional): A title per image. Defaults to None.
        points (Sequence, optional): Per image a point ``(y, x)`` in pixels to mark on the
            image and on the maps labelled ``attention`` (the query), or None. Defaults to None.
        panel_inches (float): Size of one panel. Defaults to 1.6.

    Returns:
        str: ``out_file``.
    """
    columns = 1 + max(len(m) for m in maps)
    fig = Figure(figsize=(columns * panel_inches, len(images) * panel_inches * 1.15), dpi=100)
    axes = fig.subplots(len(images), columns, squeeze=False)
    for row, (image, labelled) in enumerate(zip(images, maps, strict=True)):
        panels = [(titles[row] if titles else 'image', image)]
        for label, feature in labelled.items():
            overlay = Visualizer.draw_featmap(feature[None].float(), image, alpha=0.55)
            panels.append((label, overlay))
        for ax, (label, picture) in zip(axes[row], panels, strict=False):
            ax.imshow(picture)
            ax.set_title(
                label.replace(' head', '\nhead').replace(' attention', '\nattention'), fontsize=7
            )
            point = points[row] if points else None
            if point is not None and (label == panels[0][0] or 'attention' in label):
                ax.plot(point[1], point[0], 'w+', markersize=8, markeredgewidth=2)
        for ax in axes[row]:
            ax.axis('off')
    fig.tight_layout(pad=0.3)
    return _save(fig, out_file)


def draw_erf_grid(
    erfs: dict[str, Sequence[np.ndarray]],
    areas: dict[str, Sequence[dict]],
    out_file: str,
    panel_inches: float = 2.4,
) -> str:
    """One row per model, one panel per stage output (counted from 0): the ERF, log scale, areas.

    Args:
        erfs (dict[str, Sequence[np.ndarray]]): Per model label, one contribution map per stage.
        areas (dict[str, Sequence[dict]]): Per model label and stage, the
            :func:`~smt_mm.visualization.receptive_field.contribution_areas` result.
        out_file (str): The PNG to write (its folder is created).
        panel_inches (float): Size of one panel. Defaults to 2.4.

    Returns:
        str: ``out_file``.
    """
    columns = max(len(maps) for maps in erfs.values())
    fig = Figure(figsize=(columns * panel_inches, len(erfs) * panel_inches * 1.2), dpi=100)
    axes = fig.subplots(len(erfs), columns, squeeze=False)
    for row, (label, maps) in enumerate(erfs.items()):
        for stage, erf in enumerate(maps):
            ax = axes[row][stage]
            peak = erf.max()
            # log scale over three decades below the peak, as ERF pictures are usually shown
            ax.imshow(np.maximum(erf, peak * 1e-3), cmap='viridis', norm=LogNorm(peak * 1e-3, peak))
            shares = '/'.join(share.rstrip('%') for share in areas[label][stage])
            ratios = ' / '.join(f'{100 * a["ratio"]:.2g}' for a in areas[label][stage].values())
            ax.set_title(f'{label} stage {stage}\n{shares}%: {ratios} % of area', fontsize=7)
        for ax in axes[row]:
            ax.axis('off')
    fig.tight_layout(pad=0.3)
    return _save(fig, out_file)
