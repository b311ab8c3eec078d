"""The map and ERF grids: titles, row headings, colour bars with units; no text overlaps."""

import itertools

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from smt_mm.maps.grids import ERF_UNIT, erf_grid_figure, map_grid_figure, map_unit
from smt_mm.maps.receptive_field import UNTRAINED, contribution_areas


def _texts(fig):
    """Draw the figure; its row headings, panel titles and colour-bar labels with their boxes."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    headings = [row._suptitle for row in fig.subfigs]
    axes = [ax for row in fig.subfigs for ax in row.axes]
    titles = [ax.title for ax in axes if ax.get_title()]
    bars = [ax.yaxis.label for ax in axes if ax.get_ylabel()]
    boxes = [text.get_window_extent(renderer) for text in headings + titles + bars]
    return headings, titles, bars, boxes, fig.bbox


def _readable(boxes, figure_box):
    for box in boxes:  # inside the picture
        assert box.x0 >= 0 and box.y0 >= 0, box
        assert box.x1 <= figure_box.x1 and box.y1 <= figure_box.y1, box
    for a, b in itertools.combinations(boxes, 2):  # two-line titles included
        assert not a.overlaps(b), (a, b)


def test_map_grid_titles_rows_and_colour_bars_with_units():
    images = [np.zeros((32, 40, 3), np.uint8)] * 2
    labelled = {
        'block 0.1 modulator': torch.rand(8, 10),
        'block 0.1 head 3 (9x9)': torch.rand(8, 10),
        'block 2.1 attention': torch.rand(2, 3),
    }
    heading = f'smt_t: {UNTRAINED}'
    fig = map_grid_figure(
        images, [labelled] * 2, ['a.jpg', 'b.jpg'], [(16, 20), None], 3.2, heading
    )
    headings, titles, bars, boxes, figure_box = _texts(fig)
    assert fig._suptitle.get_text() == heading
    boxes.append(fig._suptitle.get_window_extent(fig.canvas.get_renderer()))
    assert [text.get_text() for text in headings] == ['a.jpg', 'b.jpg']
    assert [text.get_text() for text in titles[:4]] == [
        'image\n+ attention query',
        'block 0.1\nmodulator',
        'block 0.1\nhead 3 (9x9)',
        'block 2.1\nattention',
    ]
    assert titles[4].get_text() == 'image'  # no query in the second row
    units = [map_unit(label) for label in labelled]
    assert [text.get_text() for text in bars] == units * 2  # a colour bar per map
    assert len(set(units)) == 3 and 'signed' in units[0] and 'attention weight' in units[2]
    _readable(boxes, figure_box)


def test_erf_grid_says_log_scale_and_marks_untrained_models():
    rng = np.random.default_rng(0)
    erfs = {name: [rng.random((24, 24)) for _ in range(4)] for name in ('smt', 'swin')}
    areas = {name: [contribution_areas(erf) for erf in maps] for name, maps in erfs.items()}
    weights = {'smt': 'checkpoint iter_400.pth', 'swin': UNTRAINED}
    fig = erf_grid_figure(erfs, areas, weights)
    headings, titles, bars, boxes, figure_box = _texts(fig)
    assert [text.get_text() for text in headings] == [
        'smt: checkpoint iter_400.pth',
        f'swin: {UNTRAINED}',
    ]
    assert titles[0].get_text().startswith('stage 0\n20/50/90% in ')
    assert len(titles) == 8 and [text.get_text() for text in bars] == [ERF_UNIT] * 2
    assert 'log scale' in ERF_UNIT
    image = fig.subfigs[0].axes[0].images[0]
    assert image.norm.vmin == 1e-3 and image.norm.vmax == 1  # relative to the peak, log
    _readable(boxes, figure_box)
