"""tools/analysis/visualize_modulation.py and receptive_field.py end to end on the toy configs."""

import json
import os.path as osp

import cv2
import pytest
import torch
from conftest import REPO_ROOT
from smt_reference import RefSMT

from smt_mm.demo import save_initial_checkpoint
from smt_mm.maps.receptive_field import UNTRAINED
from smt_mm.toydata import generate_coco

DET = osp.join(REPO_ROOT, 'configs/detection/mask_rcnn_smt_t_toy.py')
SWIN = osp.join(REPO_ROOT, 'configs/detection/mask_rcnn_swin_t_toy.py')
CLS = osp.join(REPO_ROOT, 'configs/classification/smt_t_toy.py')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """Two toy COCO validation images and an untrained SMT-T Mask R-CNN checkpoint."""
    root = tmp_path_factory.mktemp('toy')
    generate_coco(str(root / 'coco'), num_train=1, num_val=2)
    checkpoint = save_initial_checkpoint(DET, str(root / 'det.pth'))
    return dict(images=str(root / 'coco' / 'val2017'), checkpoint=checkpoint, root=root)


def test_visualize_modulation_draws_a_row_per_image(load_tool, toy, tmp_path, capsys):
    tool = load_tool('tools/analysis/visualize_modulation.py')
    out_file = tool.main([
        DET, toy['checkpoint'], toy['images'], '--out-dir', str(tmp_path), '--size', '96x120',
        '--blocks', '0.0', '2.4', '--attention-block', '3.0', '--query', '10,20',
    ])  # fmt: skip
    assert out_file == str(tmp_path / 'modulation.png')
    picture = cv2.imread(out_file)
    # 2 rows of 1 image + 2 modulators + 4 heads + 1 attention map
    assert picture.shape[0] > 200 and picture.shape[1] > 7 * picture.shape[0] / 2
    assert 'modulation maps of 2 image(s)' in capsys.readouterr().out


def test_visualize_modulation_reads_an_official_smt_file(load_tool, toy, tmp_path):
    torch.manual_seed(0)
    official = str(tmp_path / 'smt_tiny.pth')  # the release layout: {'model': patch_embed1...}
    torch.save({'model': RefSMT('tiny', num_classes=4).state_dict()}, official)
    image = osp.join(toy['images'], '000001.jpg')
    tool = load_tool('tools/analysis/visualize_modulation.py')
    out_file = tool.main([
        CLS, official, image, '--out-dir', str(tmp_path), '--heads-block', 'none',
        '--blocks', 'none', '--attention-block', '3.0', '--per-head-attention',
    ])  # fmt: skip
    height, width = cv2.imread(out_file).shape[:2]
    assert width > 12 * height  # the image and one map per head of the 16 in stage 3


@pytest.mark.parametrize(
    'argv,message',
    [
        (['missing.jpg'], 'image not found: missing.jpg'),
        (['missing.pth', 'x.jpg'], 'image not found: x.jpg'),
        (['{images}', '--blocks', '2.1'], "'2.1' is not a SAM block"),
        (['{images}', '--query', '500,1'], r'query \(500, 1\) is outside the 128x128 image'),
    ],
)
def test_visualize_modulation_errors_name_the_problem(load_tool, toy, tmp_path, argv, message):
    tool = load_tool('tools/analysis/visualize_modulation.py')
    argv = [arg.format(images=toy['images']) for arg in argv]
    with pytest.raises(SystemExit, match=message):
        tool.main([CLS, *argv, '--out-dir', str(tmp_path), '--num', '1'])


def test_receptive_field_compares_smt_and_swin(load_tool, toy, tmp_path, capsys):
    tool = load_tool('tools/analysis/receptive_field.py')
    report = tool.main([
        DET, toy['checkpoint'], '--images', toy['images'], '--num', '1', '--size', '64x64',
        '--out-dir', str(tmp_path), '--compare', SWIN, '--allow-untrained',
    ])  # fmt: skip
    with open(tmp_path / 'erf.json') as f:
        assert json.load(f) == report
    smt, swin = report['models']['mask_rcnn_smt_t_toy'], report['models']['mask_rcnn_swin_t_toy']
    assert smt['checkpoint'] == toy['checkpoint'] and swin['checkpoint'] is None
    assert smt['weights'] == 'checkpoint det.pth' and swin['weights'] == UNTRAINED
    for model in (smt, swin):
        assert [s['stage'] for s in model['stages']] == [0, 1, 2, 3]
        for stage in model['stages']:
            pixels = [a['pixels'] for a in stage['areas'].values()]
            assert list(stage['areas']) == ['20%', '50%', '90%'] and pixels == sorted(pixels)
            assert 0 < stage['areas']['90%']['ratio'] <= 1
    assert cv2.imread(report['picture']).shape[0] > 100
    out = capsys.readouterr().out
    assert f'mask_rcnn_swin_t_toy: {UNTRAINED}\nmask_rcnn_swin_t_toy         stage 0: ' in out


def test_receptive_field_refuses_trained_against_untrained(load_tool, toy, tmp_path):
    # before any model is built or image read (check_comparable's own test has the other case)
    tool = load_tool('tools/analysis/receptive_field.py')
    message = r'untrained \(random init\).*--compare CONFIG CHECKPOINT.*--allow-untrained'
    with pytest.raises(SystemExit, match=message):
        tool.main([
            DET, toy['checkpoint'], '--compare', SWIN, '--images', 'missing/', '--out-dir',
            str(tmp_path),
        ])  # fmt: skip
    assert not (tmp_path / 'erf.png').exists()


def test_receptive_field_refuses_a_checkpoint_of_another_model(load_tool, toy, tmp_path):
    tool = load_tool('tools/analysis/receptive_field.py')
    with pytest.raises(SystemExit, match='The checkpoint does not fit the model'):
        tool.main([SWIN, toy['checkpoint'], '--images', toy['images'], '--out-dir', str(tmp_path)])
