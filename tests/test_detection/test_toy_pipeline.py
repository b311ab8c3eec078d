"""End to end on generated data through the real tools: train, test, TTA, resume, 2 processes."""

import glob
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import cv2
import pytest
import torch
from conftest import REPO_ROOT

from smt_mm.demo import toy_data_options
from smt_mm.toydata import generate_coco
from smt_mm.visualization.panels import MIN_PANEL

ROOT = REPO_ROOT
TOY = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
HERE = osp.dirname(osp.abspath(__file__))

pytestmark = pytest.mark.slow

# Tiny and quick: 128x128 images, batch 2, no intermediate validation.
QUICK = [
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
    'model.test_cfg.rpn.max_per_img=50',
    'model.test_cfg.rcnn.max_per_img=10',
]


def run(cmd, env=None, timeout=300):
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def options(data_root, iters, interval):
    data = toy_data_options(data_root, 'annotations/instances_val2017.json')
    return [
        *(f'{key}={value}' for key, value in data.items()),
        *QUICK,
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={interval}',
    ]


def read_text(path):
    if not osp.isfile(path):
        return ''
    with open(path) as f:
        return f.read().strip()


def eval_records(work_dir):
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, 'eval_*.json'))):
        with open(path) as f:
            records.append(json.load(f))
    return records


@pytest.fixture(scope='module')
def toy_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    generate_coco(str(root), num_train=12, num_val=3, height=128, width=128, seed=1)
    return str(root)


@pytest.fixture(scope='module')
def trained(toy_data, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('train'))
    cmd = [sys.executable, TRAIN, TOY, '--work-dir', work_dir, '--cfg-options']
    out = run(cmd + options(toy_data, 4, 4)).stdout
    checkpoint = osp.join(work_dir, 'iter_4.pth')
    assert osp.isfile(checkpoint)
    # quiet console, whole log file; the last lines name what was written
    assert 'paramwise_options' not in out and 'System environment' not in out
    written = out.split('written:\n')[-1].split('\n')
    assert written[0].split() == ['checkpoint:', checkpoint]
    log = written[1].split()[1]
    assert written[1].split()[0] == 'log:' and log.startswith(work_dir)
    with open(log) as f:
        assert 'System environment' in f.read()
    return work_dir, checkpoint


@pytest.mark.oldest  # also on the oldest stack (make test-oldest): compiled RoIAlign, NMS
def test_train_then_test_writes_coco_metrics(toy_data, trained, tmp_path):
    work_dir, checkpoint = trained
    cmd = [sys.executable, TEST, TOY, checkpoint, '--work-dir', str(tmp_path), '--show-dir', 'vis']
    cmd += ['--out', str(tmp_path / 'preds.pkl'), '--cfg-options', *options(toy_data, 4, 4)]
    out = run(cmd).stdout
    (record,) = eval_records(str(tmp_path))
    assert record['checkpoint'] == checkpoint and record['tta'] is False
    assert record['scope'] == 'mmdet' and record['config'].endswith('mask_rcnn_smt_t_toy.py')
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP'):
        assert 0.0 <= record['metrics'][key] <= 1.0
    assert osp.isfile(tmp_path / 'preds.pkl')
    pictures = glob.glob(str(tmp_path / 'vis' / '*.jpg'))  # in the work dir, one folder
    assert len(pictures) == 3
    written = [line.split() for line in out.split('written:\n')[-1].splitlines()]
    assert [name for name, _ in written] == ['metrics:', 'log:', 'pictures:', 'predictions:']
    assert written[2][1] == str(tmp_path / 'vis') and written[3][1] == str(tmp_path / 'preds.pkl')
    assert record['outputs']['pictures'] == str(tmp_path / 'vis')
    for picture in pictures:  # smt_mm's visualiser: two titled, enlarged panels and a legend
        height, width = cv2.imread(picture).shape[:2]
        assert height > MIN_PANEL and width >= 2 * MIN_PANEL


def test_tta(toy_data, trained, tmp_path):
    _, checkpoint = trained
    cmd = [sys.executable, TEST, TOY, checkpoint, '--tta', '--work-dir', str(tmp_path)]
    run(cmd + ['--cfg-options', *options(toy_data, 4, 4)])
    (record,) = eval_records(str(tmp_path))
    assert record['tta'] is True
    assert 'coco/bbox_mAP' in record['metrics'] and 'coco/segm_mAP' in record['metrics']
    log = glob.glob(str(tmp_path / record['timestamp'] / '*.log'))[0]
    with open(log) as f:
        assert 'MaskDetTTAModel' in f.read()


def test_resume_after_interruption(toy_data, tmp_path):
    work_dir = str(tmp_path)
    cmd = [sys.executable, TRAIN, TOY, '--work-dir', work_dir, '--cfg-options']
    # A long run, killed once it has saved its second checkpoint.
    process = subprocess.Popen(
        cmd + options(toy_data, 1000, 2),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # mmengine names the checkpoint in `last_checkpoint` once it is completely written
        last_file = osp.join(work_dir, 'last_checkpoint')
        deadline = time.time() + 600
        while not read_text(last_file).endswith('iter_4.pth'):
            assert process.poll() is None and time.time() < deadline, 'training did not save'
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    saved_iter = torch.load(last, map_location='cpu', weights_only=False)['meta']['iter']
    assert saved_iter == 4
    result = run(cmd[:-1] + ['--resume', '--cfg-options', *options(toy_data, saved_iter + 2, 2)])
    log = result.stdout + result.stderr
    assert f'resumed epoch: 0, iter: {saved_iter}' in log
    final = osp.join(work_dir, f'iter_{saved_iter + 2}.pth')
    assert (
        torch.load(final, map_location='cpu', weights_only=False)['meta']['iter'] == saved_iter + 2
    )
    assert f'Iter(train) [{saved_iter + 1}/{saved_iter + 2}]' in log


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_processes_agree(toy_data, tmp_path):
    config = tmp_path / 'toy_with_rank_weights.py'
    config.write_text(
        f'_base_ = {TOY!r}\n'
        "custom_imports = dict(imports=['smt_mm', 'rank_weights_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='SaveRankWeightsHook')]\n"
    )
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = HERE + os.pathsep + env.get('PYTHONPATH', '')
    work_dir = tmp_path / 'work'
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), str(config), '2']
    cmd += ['--work-dir', str(work_dir), '--cfg-options', *options(toy_data, 3, 3)]
    cmd += ['train_dataloader.batch_size=1']
    result = run(cmd, env=env)
    assert 'gloo' in result.stdout + result.stderr
    rank0 = torch.load(work_dir / 'rank0_weights.pth', map_location='cpu')
    rank1 = torch.load(work_dir / 'rank1_weights.pth', map_location='cpu')
    assert rank0.keys() == rank1.keys()
    # DDP keeps the parameters in sync; BatchNorm running statistics stay per process
    statistics = ('running_mean', 'running_var', 'num_batches_tracked')
    weights = [name for name in rank0 if not name.endswith(statistics)]
    assert len(weights) > 200
    for name in weights:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0, msg=name)
    # and they are the trained weights that rank 0 saved
    checkpoint = torch.load(work_dir / 'iter_3.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['iter'] == 3
    for name, value in checkpoint['state_dict'].items():
        torch.testing.assert_close(value, rank0[name], rtol=0, atol=0, msg=name)
