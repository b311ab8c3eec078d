"""The demos: their config overrides, and both demos end to end on tiny generated datasets."""

import json
import os.path as osp
import subprocess
import sys

import cv2
import pytest
from conftest import REPO_ROOT

from smt_mm.demo import demo_markdown, run_demo, schedule_options, toy_data_options
from smt_mm.toydata import generate_ade20k, generate_coco

ROOT = REPO_ROOT
DETECTION_TOY = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')


def test_toy_data_options():
    options = toy_data_options('data/x', 'annotations/val.json')
    assert options['test_dataloader.dataset.data_root'] == 'data/x/'
    assert options['val_evaluator.ann_file'] == 'data/x/annotations/val.json'
    assert len(options) == 5
    assert set(toy_data_options('data/x/')) == {
        f'{split}_dataloader.dataset.data_root' for split in ('train', 'val', 'test')
    }


def test_schedule_options():
    assert schedule_options(None) == {}
    assert schedule_options(60) == {'train_cfg.max_iters': 60, 'param_scheduler.1.end': 60}


@pytest.mark.slow
def test_detection_demo(tmp_path, capsys):
    data_root = str(tmp_path / 'coco')
    generate_coco(data_root, num_train=8, num_val=3)
    # the shortest run the toy schedule allows: its cosine decay starts after 50 iterations
    summary = run_demo('detection', DETECTION_TOY, str(tmp_path / 'work'), data_root, 51)
    assert summary['checkpoint'].endswith('iter_51.pth')
    assert list(summary['columns']) == ['untrained', 'trained']
    assert set(summary['columns']['trained']) == {
        'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP'
    }  # fmt: skip
    # ground truth | prediction, 128 px images drawn at 512 px, titles, legend and caption
    height, width = cv2.imread(summary['picture']).shape[:2]
    assert width == 2 * 512 + 8 and height > 512
    out = capsys.readouterr().out
    assert '=== smt_mm detection demo ===' in out and 'coco/segm_mAP' in out
    with open(summary['results']) as f:  # the record docs/detection.md quotes
        results = json.load(f)
    with open(osp.join(ROOT, 'docs', 'demo_results.json')) as f:
        assert set(results) == set(json.load(f)['detection'])
    assert results['columns'] == summary['columns'] and results['max_iters'] == 51
    assert f'{results["columns"]["trained"]["coco/bbox_mAP"]:.3f} |' in demo_markdown(results)


@pytest.mark.slow
def test_segmentation_demo_through_the_tool(tmp_path):
    data_root = str(tmp_path / 'ade20k')
    generate_ade20k(data_root, num_train=8, num_val=2)
    work_dir = tmp_path / 'work'
    cmd = [
        sys.executable,
        osp.join(ROOT, 'tools', 'demo.py'),
        'segmentation',
        '--work-dir',
        str(work_dir),
    ]
    cmd += ['--data-root', data_root, '--max-iters', '12']
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = result.stdout.split('on the validation images:\n')[1].splitlines()
    assert table[0].split() == ['untrained', 'single-scale', 'multi-scale+flip']
    assert [line.split()[0] for line in table[1:6]] == [
        'mIoU', 'background', 'circle', 'rectangle', 'triangle'
    ]  # fmt: skip
    picture = cv2.imread(str(work_dir / 'val_prediction.png'))
    # image | ground truth | prediction at 512 px, with titles, legend and caption
    assert picture.shape[1] == 3 * 512 + 2 * 8 and picture.shape[0] > 512
    assert osp.isfile(work_dir / 'iter_12.pth')
