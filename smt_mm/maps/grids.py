"""Labelled PNG grids: maps overlaid on their images; effective receptive fields side by side.

Every panel has a title and a colour bar that says what its colours measure; each row has a
heading (the image's file name, or the model and where its weights come from).
"""

import math
import os
import os.path as osp
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure  # no pyplot: no backend or global figure state is touched


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
    fig.savefig(out_file, dpi=fig.dpi)
    return out_file


#: What the colours of a map mean, by a word of its label (the first that matches).
MAP_UNITS = {
    'modulator': 'modulator, channel mean\n(multiplies v; signed)',
    'head': 'mean |response|',
    'attention': 'attention weight\n(sums to 1 over all tokens)',
}

#: The ERF colour scale: contribution relative to the map's peak, log scale over 3 decades.
ERF_FLOOR = 1e-3
ERF_UNIT = 'contribution / peak\n(log scale)'


def map_unit(label: str) -> str:
    """The colour-bar label of a map labelled ``label`` (see :data:`MAP_UNITS`)."""
    for word, unit in MAP_UNITS.items():
        if word in label:
            return unit
    return 'value'


def _panel_title(label: str) -> str:
    """``'block 0.1 head 2 (7x7)'`` -> two lines, the block first."""
    for word in (' head', ' attention', ' modulator'):
        if word in label:
            return label.replace(word, '\n' + word.strip(), 1)
    return label


def map_grid_figure(
    images: Sequence[np.ndarray],
    maps: Sequence[dict[str, torch.Tensor]],
    titles: Sequence[str] | None = None,
    points: Sequence[tuple[float, float] | None] | None = None,
    panel_inches: float = 3.2,
    heading: str | None = None,
) -> Figure:
    """The figure of :func:`draw_map_grid` (see there), not yet written.

    Returns:
        Figure: One subfigure per row, titled with the image's title; per panel an axes with
        a title and, for maps, a colour bar labelled by :func:`map_unit`.
    """
    columns = 1 + max(len(m) for m in maps)
    fig = Figure(
        figsize=(columns * panel_inches * 1.3, len(images) * panel_inches * 1.25),
        dpi=100, layout='constrained',
    )  # fmt: skip
    if heading:
        fig.suptitle(heading, fontsize=13)
    rows = fig.subfigures(len(images), 1, squeeze=False)[:, 0]
    for row, (image, labelled) in enumerate(zip(images, maps, strict=True)):
        axes = rows[row].subplots(1, columns, squeeze=False)[0]
        heading = titles[row] if titles else f'image {row}'
        rows[row].suptitle(heading, x=0.005, ha='left', fontsize=12, fontweight='bold')
        height, width = image.shape[:2]
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)
        point = points[row] if points else None
        axes[0].imshow(image)
        axes[0].set_title('image' + ('\n+ attention query' if point else ''), fontsize=10)
        for ax, (label, feature) in zip(axes[1:], labelled.items(), strict=False):
            ax.imshow(image)
            overlay = ax.imshow(
                feature.float().numpy(), cmap='jet', alpha=0.55, extent=extent,
                interpolation='bilinear',
            )  # fmt: skip
            ax.set_title(_panel_title(label), fontsize=10)
            bar = rows[row].colorbar(overlay, ax=ax, shrink=0.8, pad=0.02)
            bar.set_label(map_unit(label), fontsize=8)
            bar.solids.set_alpha(1)  # the bar shows the colours, not the blend
            bar.ax.tick_params(labelsize=7)
        for ax, (label, _) in zip(axes, [('image', None), *labelled.items()], strict=False):
            if point is not None and (label == 'image' or 'attention' in label):
                ax.plot(point[1], point[0], 'w+', markersize=12, markeredgewidth=2)
        for ax in axes:
            ax.axis('off')
    return fig


def draw_map_grid(
    images: Sequence[np.ndarray],
    maps: Sequence[dict[str, torch.Tensor]],
    out_file: str,
    titles: Sequence[str] | None = None,
    points: Sequence[tuple[float, float] | None] | None = None,
    panel_inches: float = 3.2,
    heading: str | None = None,
) -> str:
    """One row per image: the image, then each of its maps overlaid as a heat map.

    Args:
        images (Sequence[np.ndarray]): RGB uint8 images.
        maps (Sequence[dict[str, torch.Tensor]]): Per image, labelled ``(h, w)`` maps; each is
            stretched over the image in a jet colour scale from its own smallest to its largest
            value, shown on its colour bar (labelled by :func:`map_unit`).
        out_file (str): The PNG to write (its folder is created).
        titles (Sequence[str], optional): A heading per row (image). Defaults to None.
        points (Sequence, optional): Per image a point ``(y, x)`` in pixels to mark on the
            image and on the maps labelled ``attention`` (the query), or None. Defaults to None.
        panel_inches (float): Size of one panel (100 pixels an inch). Defaults to 3.2.
        heading (str, optional): The figure's title, e.g. the model and where its weights
            come from. Defaults to None.

    Returns:
        str: ``out_file``.
    """
    figure = map_grid_figure(images, maps, titles, points, panel_inches, heading)
    return _save(figure, out_file)


def erf_grid_figure(
    erfs: dict[str, Sequence[np.ndarray]],
    areas: dict[str, Sequence[dict]],
    weights: dict[str, str] | None = None,
    panel_inches: float = 3.0,
) -> Figure:
    """The figure of :func:`draw_erf_grid` (see there), not yet written.

    Returns:
        Figure: One subfigure per model, titled ``'<label>: <weights>'``; one axes per stage,
        titled with its stage and areas; one colour bar per row.
    """
    columns = max(len(maps) for maps in erfs.values())
    fig = Figure(
        figsize=(columns * panel_inches + 1.2, len(erfs) * panel_inches * 1.3),
        dpi=100, layout='constrained',
    )  # fmt: skip
    rows = fig.subfigures(len(erfs), 1, squeeze=False)[:, 0]
    for row, (label, maps) in enumerate(erfs.items()):
        axes = rows[row].subplots(1, columns, squeeze=False)[0]
        heading = f'{label}: {weights[label]}' if weights and label in weights else label
        rows[row].suptitle(heading, x=0.005, ha='left', fontsize=12, fontweight='bold')
        image = None
        for stage, erf in enumerate(maps):
            ax: Axes = axes[stage]
            relative = np.maximum(erf / erf.max(), ERF_FLOOR)
            image = ax.imshow(relative, cmap='viridis', norm=LogNorm(ERF_FLOOR, 1))
            shares = '/'.join(share.rstrip('%') for share in areas[label][stage])
            ratios = '/'.join(f'{100 * a["ratio"]:.2g}' for a in areas[label][stage].values())
            ax.set_title(f'stage {stage}\n{shares}% in {ratios}% of area', fontsize=10)
        for ax in axes:
            ax.axis('off')
        if image is not None:
            bar = rows[row].colorbar(image, ax=list(axes), shrink=0.8, pad=0.01)
            bar.set_label(ERF_UNIT, fontsize=9)
    return fig


def draw_erf_grid(
    erfs: dict[str, Sequence[np.ndarray]],
    areas: dict[str, Sequence[dict]],
    out_file: str,
    weights: dict[str, str] | None = None,
    panel_inches: float = 3.0,
) -> str:
    """One row per model, one panel per stage output (counted from 0): the ERF, log scale, areas.

    Each map is divided by its peak and drawn on a log colour scale over the three decades
    below it (smaller values as the floor), as ERF pictures usually are; the colour bar says so.

    Args:
        erfs (dict[str, Sequence[np.ndarray]]): Per model label, one contribution map per stage.
        areas (dict[str, Sequence[dict]]): Per model label and stage, the
            :func:`~smt_mm.maps.receptive_field.contribution_areas` result.
        out_file (str): The PNG to write (its folder is created).
        weights (dict[str, str], optional): Per model label, where its weights come from (e.g.
            :data:`~smt_mm.maps.receptive_field.UNTRAINED`), shown in its row's
            heading. Defaults to None.
        panel_inches (float): Size of one panel (100 pixels an inch). Defaults to 3.0.

    Returns:
        str: ``out_file``.
    """
    return _save(erf_grid_figure(erfs, areas, weights, panel_inches), out_file)
