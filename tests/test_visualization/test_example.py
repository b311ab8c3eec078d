"""The demo pictures: a label map painted with a palette, and one test image of a toy config."""

import os.path as osp
import re

import numpy as np
import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

from smt_mm.config import load_config
from smt_mm.demo import save_initial_checkpoint, toy_data_options
from smt_mm.toydata import generate_ade20k, generate_coco
from smt_mm.visualization import colorize, draw_example, example_sheet
from smt_mm.visualization.panels import MIN_PANEL


def test_colorize_paints_classes_and_leaves_ignored_and_unknown_values_white():
    palette = [(255, 0, 0), (0, 255, 0)]  # RGB
    label_map = np.array([[0, 1], [255, 7]])
    picture = colorize(label_map, palette)
    assert picture.dtype == np.uint8 and picture.shape == (2, 2, 3)
    assert picture[0, 0].tolist() == [0, 0, 255]  # BGR of red
    assert picture[0, 1].tolist() == [0, 255, 0]
    assert picture[1].tolist() == [[255, 255, 255]] * 2


def _untrained(config, data_root, ann_file, tmp_path):
    """The toy config pointed at ``data_root`` and a checkpoint of its untrained model."""
    config, options = osp.join(REPO_ROOT, 'configs', config), toy_data_options(data_root, ann_file)
    checkpoint = save_initial_checkpoint(config, str(tmp_path / 'untrained.pth'), options)
    return load_config(config, options), checkpoint


@pytest.mark.parametrize(
    'task,config,generate,ann_file,titles,classes',
    [
        ('coco', 'detection/mask_rcnn_smt_t_toy.py', generate_coco,
         'annotations/instances_val2017.json', ['ground truth', 'prediction (score >= 0.30)'],
         ['circle', 'rectangle', 'triangle', 'star']),
        ('ade20k', 'segmentation/upernet_smt_t_toy.py', generate_ade20k, None,
         ['image', 'ground truth', 'prediction'],
         ['background', 'circle', 'rectangle', 'triangle', 'star']),
    ],
)  # fmt: skip
def test_example_sheet_explains_the_median_test_image(
    tmp_path, task, config, generate, ann_file, titles, classes
):
    data_root = str(tmp_path / task)
    generate(data_root, num_train=1, num_val=3)  # toy COCO image 0 has no objects
    cfg, checkpoint = _untrained(config, data_root, ann_file, tmp_path)
    sheet = example_sheet(cfg, checkpoint)
    assert sheet.titles == titles and sheet.legend[: len(classes)] == classes
    assert min(sheet.panel_size) >= MIN_PANEL  # 128 px toy images, enlarged
    texts = [text for labels in sheet.labels for text, _ in labels]
    for _, (x0, y0, x1, y1) in [label for labels in sheet.labels for label in labels]:
        assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 512
    # the untrained detector's scores, as fractions ("0.31", never "31.0"); class names alone
    # on the ground truth
    assert all(re.fullmatch(r'[a-z]+( 0\.\d\d)?', text) for text in texts), texts
    assert re.match(
        r'\d{6}\.jpg: (F1 \d\.\d\d|mIoU [\d.]+%).*the median of the [23] ', sheet.caption
    )
    height, width = sheet.image.shape[:2]  # draw_example writes it (the demos' tests read it)
    assert width == len(titles) * 512 + (len(titles) - 1) * 8 and height > 512


def test_draw_example_refuses_other_toolboxes(tmp_path):
    cfg = Config(dict(default_scope='mmpretrain'))
    with pytest.raises(ValueError, match=r"no picture for default_scope 'mmpretrain'"):
        draw_example(cfg, 'unused.pth', str(tmp_path / 'x.png'))
