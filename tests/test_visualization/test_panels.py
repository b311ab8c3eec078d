"""Pictures that read without the code: panel size, titles, legend, labels inside and apart."""

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from smt_mm.visualization.detection import detection_f1
from smt_mm.visualization.panels import (
    MIN_PANEL,
    compose,
    draw_objects,
    median_index,
    place_label,
    upscale,
)
from smt_mm.visualization.segmentation import image_miou


def _inside(box, height, width):
    return 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height


def _apart(a, b):
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_upscale_enlarges_small_images_by_whole_blocks_and_keeps_large_ones():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    big, factor = upscale(image, min_size=5)
    assert factor == 3 and big.shape == (6, 9, 3)
    assert (big[3:6, 6:9] == image[1, 2]).all()  # nearest: one pixel, one block
    toy, factor = upscale(np.zeros((128, 160), np.uint8))
    assert factor == 4 and toy.shape == (4 * 128, 4 * 160) and min(toy.shape) >= MIN_PANEL
    large = np.zeros((600, 700, 3), np.uint8)
    assert upscale(large)[0] is large and upscale(large)[1] == 1


def test_labels_stay_inside_the_canvas_at_every_edge():
    canvas = (100, 200)
    for obj in [(190, 0, 199, 10), (-20, -20, 5, 5), (0, 95, 199, 99), (150, 40, 260, 120)]:
        box = place_label((60, 20), obj, canvas, [])
        assert _inside(box, *canvas), (obj, box)
    # above the object where there is room, else inside its top edge
    assert place_label((60, 20), (50, 50, 90, 90), canvas, [])[1] == 30
    assert place_label((60, 20), (50, 5, 90, 90), canvas, [])[1] == 5


def test_labels_of_objects_at_one_place_do_not_cover_each_other():
    panel = np.zeros((MIN_PANEL, MIN_PANEL, 3), np.uint8)
    # five boxes on top of each other at the right edge, long labels
    boxes = np.array([[470, 200, 511, 260]] * 5, np.float32)
    texts = [f'rectangle 0.{k}8' for k in range(5)]
    drawn = draw_objects(panel, boxes, texts, [(255, 128, 0)] * 5)
    assert [text for text, _ in drawn] == texts
    labels = [box for _, box in drawn]
    for k, box in enumerate(labels):
        assert _inside(box, MIN_PANEL, MIN_PANEL), box
        assert all(_apart(box, other) for other in labels[k + 1 :]), labels
    assert panel.any()  # drawn


def test_compose_lays_out_titled_panels_a_legend_and_a_caption():
    panels = [('ground truth', np.zeros((512, 512, 3), np.uint8))] * 2
    legend = [('circle', (60, 20, 220)), ('rectangle', (255, 128, 0))]
    sheet = compose(panels, legend=legend, caption='000001.jpg: the median of 3 images.')
    assert sheet.titles == ['ground truth', 'ground truth']
    assert sheet.legend == ['circle', 'rectangle'] and sheet.panel_size == (512, 512)
    height, width = sheet.image.shape[:2]
    assert width == 2 * 512 + 8 and height > 512 + 3 * 20  # title, legend and caption strips
    # the strips are white with dark writing; the panels black as given
    assert (sheet.image[:20] < 128).any() and (sheet.image[:20] == 255).any()
    assert (sheet.image[-20:] < 128).any()
    with pytest.raises(ValueError, match='panels must have one size'):
        compose([('a', np.zeros((4, 4, 3), np.uint8)), ('b', np.zeros((4, 5, 3), np.uint8))])
    with pytest.raises(ValueError, match='at least one panel'):
        compose([])


def test_median_index_picks_the_middle_score_reproducibly():
    assert median_index({7: 0.9, 3: 0.1, 5: 0.5}) == 5
    assert median_index({0: 0.2, 1: 0.4, 2: 0.6, 3: 0.8}) == 1  # the lower middle
    assert median_index({4: 0.5, 2: 0.5, 9: 0.5}) == 4  # ties by index
    with pytest.raises(ValueError, match='no image'):
        median_index({})


def _instances(boxes, labels, scores=None):
    data = InstanceData()
    data.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    data.labels = torch.tensor(labels, dtype=torch.long)
    if scores is not None:
        data.scores = torch.tensor(scores, dtype=torch.float32)
    return data


def test_detection_f1_matches_each_object_once_by_class_and_iou():
    gt = _instances([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1])
    # one hit; a duplicate of it (no second match); a box of the wrong class; a miss
    pred = _instances(
        [[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30], [50, 50, 60, 60]],
        [0, 0, 0, 1],
        [0.9, 0.8, 0.7, 0.6],
    )
    assert detection_f1(pred, gt) == pytest.approx(2 * 1 / (4 + 2))
    assert detection_f1(_instances([], [], []), _instances([], [])) == 1.0
    assert detection_f1(_instances([], [], []), gt) == 0.0


def test_image_miou_over_the_classes_present_ignoring_ignored_pixels():
    truth = np.array([[0, 0, 1, 255]])
    prediction = np.array([[0, 1, 1, 2]])
    # class 0: 1/2, class 1: 1/2; the ignored pixel and its class 2 do not count
    assert image_miou(prediction, truth) == pytest.approx(0.5)
    assert image_miou(prediction, np.full((1, 4), 255)) == 1.0
