"""The demo pictures: a label map painted with a palette, and one test image of a toy config."""

import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

from smt_mm.config import load_config
from smt_mm.demo import save_initial_checkpoint, toy_data_options
from smt_mm.toydata import generate_ade20k, generate_coco
from smt_mm.visualization import colorize, draw_example


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
    'task,config,generate,ann_file,panels',
    [
        ('coco', 'detection/mask_rcnn_smt_t_toy.py', generate_coco,
         'annotations/instances_val2017.json', 2),  # ground truth | prediction
        ('ade20k', 'segmentation/upernet_smt_t_toy.py', generate_ade20k, None, 3),
    ],
)  # fmt: skip
def test_draw_example_writes_the_panels_of_one_test_image(
    tmp_path, task, config, generate, ann_file, panels
):
    data_root = str(tmp_path / task)
    generate(data_root, num_train=1, num_val=1)
    cfg, checkpoint = _untrained(config, data_root, ann_file, tmp_path)
    out_file = str(tmp_path / 'pictures' / 'example.png')
    assert draw_example(cfg, checkpoint, out_file) == out_file
    picture = cv2.imread(out_file)
    assert picture.shape == (128, panels * 128, 3)
    assert picture.std() > 0  # a drawing, not a blank canvas


def test_draw_example_refuses_other_toolboxes(tmp_path):
    cfg = Config(dict(default_scope='mmpretrain'))
    with pytest.raises(ValueError, match=r"no picture for default_scope 'mmpretrain'"):
        draw_example(cfg, 'unused.pth', str(tmp_path / 'x.png'))
