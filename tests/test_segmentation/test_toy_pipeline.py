"""End to end on the toy ADE20K shapes, through the real tools: train, test (single- and
multi-scale), learn, refuse bad labels, fail early on missing paths, train on 2 CPU processes."""

import glob
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import cv2
import pytest
from conftest import REPO_ROOT
from toy_runs import SEGMENTATION_ITERS

from smt_mm.demo import (
    evaluate_checkpoint,
    read_class_iou,
    save_initial_checkpoint,
    toy_data_options,
)

pytestmark = pytest.mark.slow

ROOT = REPO_ROOT
CONFIG = osp.join(ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py')
TRAIN_PY = osp.join(ROOT, 'tools', 'train.py')
TEST_PY = osp.join(ROOT, 'tools', 'test.py')

# The shared run (toy_runs.train_segmentation): the demo's 120 iterations on its dataset. Measured
# on this project's 2-core CPU with the demo's data (200 / 50 images, shapes in their category's
# hue): untrained single-scale mIoU ~4, after 120 iterations mIoU 84.6 with every shape class
# learnt (IoU circle 97.1, rectangle 93.2, triangle 69.2, star 65.8); on 2026-12-06, with the
# exact-resume seeding (smt_mm.engine.ExactResumeHook: other random draws), mIoU 72.5 (circle
# 97.8, rectangle 68.3, triangle 17.6, star 80.4): runs of this recipe differ a lot per class,
# so the class floor only asks that each shape is found at all. On outline-only shapes
# (``--shape-only``) the same run learns the background alone (mIoU ~16). The floors keep a wide
# margin below the measured result and fail a model that learns the background only. (With 80
# training / 12 validation images the star class stayed at 0 IoU: hence the demo's dataset.)
MIN_MIOU = 40.0
MIN_GAIN = 30.0
MIN_CLASS_IOU = 10.0
TTA_IMAGES = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def cli(options: dict) -> list[str]:
    return [f'{key}={value}' for key, value in options.items()]


def run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f'{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result


@pytest.fixture(name='toy_data')
def fixture_toy_data(toy_segmentation_run):
    """The shared run's data root and its config overrides."""
    return toy_segmentation_run.data_root, toy_segmentation_run.options


@pytest.fixture(name='trained')
def fixture_trained(toy_segmentation_run):
    """The shared run (``toy_runs.train_segmentation``): work dir, checkpoint, its output."""
    run = toy_segmentation_run
    with open(osp.join(run.work_dir, 'train_output.log')) as f:
        return run.work_dir, run.checkpoint, f.read()


def test_single_process_training_reverts_syncbn(trained):
    work_dir, checkpoint, log = trained
    assert osp.isfile(checkpoint) and checkpoint.endswith(f'iter_{SEGMENTATION_ITERS}.pth')
    # the heads are configured with SyncBN; mmengine's runner reverts it without distribution
    # and says so in the run's log file (smt_mm.apis.quiet leaves the notice off the console)
    notice = 'SyncBatchNorm (SyncBN) layers in the model will be automatically reverted'
    log_files = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert any(notice in open(path).read() for path in log_files), log_files
    assert notice not in log
    assert 'mIoU' in log  # the validation at the end of training ran


def test_single_and_multi_scale_testing(trained, toy_data):
    work_dir, checkpoint, _ = trained
    _, options = toy_data
    # the first 10 validation images: multi-scale + flip runs the model 12 times per image (the
    # demo test and the learning floor evaluate all 50)
    options = options | {'test_dataloader.dataset.indices': TTA_IMAGES}
    single = evaluate_checkpoint(CONFIG, checkpoint, osp.join(work_dir, 'test'), options)
    multi = evaluate_checkpoint(CONFIG, checkpoint, osp.join(work_dir, 'tta'), options, tta=True)
    assert single['tta'] is False and multi['tta'] is True
    for record in (single, multi):
        assert 0.0 <= record['metrics']['mIoU'] <= 100.0


@pytest.mark.oldest  # also on the oldest stack (make test-oldest)
def test_learns_above_the_untrained_model(trained, toy_data, tmp_path):
    work_dir, checkpoint, _ = trained
    _, options = toy_data
    untrained = save_initial_checkpoint(CONFIG, str(tmp_path / 'untrained.pth'))
    untrained_dir = str(tmp_path / 'untrained')
    before = evaluate_checkpoint(CONFIG, untrained, untrained_dir, options)['metrics']['mIoU']
    record = evaluate_checkpoint(CONFIG, checkpoint, str(tmp_path / 'trained'), options)
    after = record['metrics']['mIoU']
    assert after >= MIN_MIOU, (before, after)
    assert after - before >= MIN_GAIN, (before, after)
    # every class is learnt, not only the background that covers most pixels
    ious = read_class_iou(record)
    assert len(ious) == 5 and all(iou >= MIN_CLASS_IOU for iou in ious.values()), ious


def test_out_of_range_label_is_reported_with_its_file(trained, toy_data, tmp_path):
    _, checkpoint, _ = trained
    root, _ = toy_data
    bad_root = tmp_path / 'bad'
    for folder in ('images', 'annotations'):
        os.makedirs(bad_root / folder / 'validation')
        shutil.copy(
            osp.join(
                root, folder, 'validation', '000000' + ('.jpg' if folder == 'images' else '.png')
            ),
            bad_root / folder / 'validation',
        )
    bad_file = bad_root / 'annotations' / 'validation' / '000000.png'
    label = cv2.imread(str(bad_file), cv2.IMREAD_UNCHANGED)
    label[:4, :4] = 40  # class 39 after reduce_zero_label; the toy config has 5 classes
    cv2.imwrite(str(bad_file), label)
    cmd = [sys.executable, TEST_PY, CONFIG, checkpoint, '--work-dir', str(tmp_path / 'work')]
    result = run([*cmd, '--cfg-options', *cli(toy_data_options(str(bad_root)))], check=False)
    assert result.returncode != 0
    assert str(bad_file) in result.stderr and '39 (16 px)' in result.stderr


def test_missing_paths_fail_at_start_with_the_key(tmp_path):
    absent = str(tmp_path / 'absent_root')
    cmd = [sys.executable, TRAIN_PY, CONFIG, '--work-dir', str(tmp_path / 'work')]
    result = run([*cmd, '--cfg-options', *cli(toy_data_options(absent))], check=False)
    assert result.returncode != 0
    assert 'train_dataloader.dataset.data_root' in result.stderr and absent in result.stderr
    cmd = [sys.executable, TEST_PY, CONFIG, str(tmp_path / 'absent.pth')]
    result = run([*cmd, '--work-dir', str(tmp_path / 'work')], check=False)
    assert result.returncode != 0
    assert 'load_from' in result.stderr and 'absent.pth' in result.stderr


def test_distributed_training_on_two_cpu_processes(toy_data, tmp_path):
    _, options = toy_data
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS='1')
    # 4 iterations stop inside the warm-up; the poly decay's end may lie beyond them
    schedule = [
        'train_cfg.max_iters=4',
        'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4',
        'train_dataloader.batch_size=2',
    ]
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), CONFIG, '2', '--work-dir', work_dir]
    result = subprocess.run(
        [*cmd, '--cfg-options', *cli(options), *schedule],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    # mmengine's environment dump, in the run's log file (the quiet console leaves it out)
    env_dump = ''.join(open(path).read() for path in glob.glob(osp.join(work_dir, '*', '*.log')))
    assert 'Distributed training: True' in env_dump and 'GPU number: 2' in env_dump
    # without GPU: gloo, and the heads' SyncBN configs become BN
    assert 'gloo' in log and 'SyncBN layer config(s) -> BN' in log
