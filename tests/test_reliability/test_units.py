"""Fast checks of the reliability pieces: each reproduces one defect of issue 18 in isolation."""

import os
import os.path as osp
import socket
import stat
import subprocess
import warnings
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config

from smt_mm.apis import prepare_train_config, setup_device
from smt_mm.config import ConfigCheckError, check_cfg_options, load_config
from smt_mm.datasets import TrainDataCheckHook
from smt_mm.engine import (
    RunError,
    WorkDirLock,
    find_resume_checkpoint,
    is_intact_checkpoint,
    workdir,
)
from smt_mm.models.backbones.smt import SMT
from smt_mm.models.checkpoint import CheckpointMismatchError, check_state_dict
from smt_mm.models.utils import check_input

DET_TOY = osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
CLS_TOY = osp.join(REPO_ROOT, 'configs', 'classification', 'smt_t_toy.py')


# --- defect 2: resume, truncated checkpoints ---------------------------------------------------


def _save(path, value=1.0):
    torch.save({'state_dict': {'w': torch.full((256,), value)}}, path)
    return str(path)


def test_truncated_and_empty_checkpoints_are_not_intact(tmp_path):
    good = _save(tmp_path / 'iter_1.pth')
    data = open(good, 'rb').read()
    (tmp_path / 'half.pth').write_bytes(data[: len(data) // 2])
    (tmp_path / 'empty.pth').write_bytes(b'')
    assert is_intact_checkpoint(good)
    assert not is_intact_checkpoint(str(tmp_path / 'half.pth'))
    assert not is_intact_checkpoint(str(tmp_path / 'empty.pth'))
    assert not is_intact_checkpoint(str(tmp_path / 'missing.pth'))


def test_resume_falls_back_to_the_previous_intact_checkpoint(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(workdir, 'print_log', lambda message, **_: logged.append(message))
    _save(tmp_path / 'iter_2.pth')
    latest = _save(tmp_path / 'iter_4.pth')
    data = open(latest, 'rb').read()
    (tmp_path / 'iter_4.pth').write_bytes(data[:100])  # truncated
    (tmp_path / 'last_checkpoint').write_text(latest)
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    assert logged == [
        f'resume: skipping {latest} (truncated or unreadable); trying the previous checkpoint'
    ]
    # copied in by hand: no last_checkpoint file, the newest (by number) wins
    os.remove(tmp_path / 'last_checkpoint')
    _save(tmp_path / 'iter_10.pth')
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_10.pth')


def test_resume_without_checkpoint_fails_naming_where_it_looked(tmp_path):
    work_dir = str(tmp_path / 'typo')
    cfg = load_config(CLS_TOY, work_dir=work_dir)
    with pytest.raises(RunError, match='nothing to resume') as err:
        prepare_train_config(cfg, resume='auto')
    assert osp.join(work_dir, 'last_checkpoint') in str(err.value)
    assert '--auto-resume' in str(err.value)
    cfg = load_config(CLS_TOY, work_dir=work_dir)
    prepare_train_config(cfg, resume='auto', start_fresh_if_none=True)
    assert not cfg.resume and cfg.load_from is None


# --- defect 8: work-dir lock -------------------------------------------------------------------


def _write_lock(work_dir, pid):
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'train.lock'), 'w') as f:
        f.write(f'{{"host": "{socket.gethostname()}", "pid": {pid}, "argv": ["train.py"]}}')


def test_work_dir_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path):
    live = subprocess.Popen(['sleep', '60'])
    try:
        _write_lock(tmp_path, live.pid)
        with pytest.raises(RunError, match=f'in use by another training run \\(process {live.pid}'):
            WorkDirLock(str(tmp_path)).acquire()
    finally:
        live.kill()
        live.wait()
    lock = WorkDirLock(str(tmp_path))
    lock.acquire()  # the owner is dead now: stale, taken over
    lock.acquire()  # the same process may take it again
    assert f'"pid": {os.getpid()}' in (tmp_path / 'train.lock').read_text()
    lock.release()
    assert not (tmp_path / 'train.lock').exists()


# --- defect 1: mismatched checkpoints ----------------------------------------------------------


def test_checkpoint_mismatch_names_keys_and_the_opt_out():
    model = torch.nn.Linear(2, 3)
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict(model, {'weight': torch.zeros(4, 2), 'extra': torch.zeros(1)})
    message = str(err.value)
    assert "missing keys: ['bias']" in message and "unexpected keys: ['extra']" in message
    assert 'weight: checkpoint (4, 2), model (3, 2)' in message
    assert '--non-strict' in message and '\\n' not in message  # readable, not a repr


# --- defect 6: unknown --cfg-options keys ------------------------------------------------------


@pytest.fixture(scope='module', name='det_cfg')
def fixture_det_cfg():
    return Config.fromfile(DET_TOY)


@pytest.mark.parametrize(
    ('option', 'message'),
    [
        ('train_cfgs.max_iters', "'train_cfgs' is neither a top-level key.*mean 'train_cfg'"),
        ('default_hooks.checkpoint.intervl', "has no key 'intervl'. Did you mean 'interval'"),
        ('train_cfg.max_iter', "IterBasedTrainLoop, which takes no argument 'max_iter'"),
        ('optim_wrapper.optimizer.lrr', "AdamW, which takes no argument 'lrr'. Did you mean 'lr'"),
        ('model.backbone.drop_path', "SMT, which takes no argument 'drop_path'"),
        ('train_dataloader.num_worker', "DataLoader, which takes no argument 'num_worker'"),
        ('param_scheduler.5.end', 'is a list of 2 items'),
    ],
)
def test_unknown_cfg_options_are_rejected_with_a_suggestion(det_cfg, option, message):
    with pytest.raises(ConfigCheckError, match=message):
        check_cfg_options(det_cfg, {option: 1})


@pytest.mark.parametrize(
    'option',
    [
        'model.backbone.fused',  # an SMT argument the config does not set
        'model.backbone.init_cfg.checkpoint',  # below a None value
        'train_dataloader.dataset.indices',  # a BaseDataset argument (CocoDataset's **kwargs)
        'default_hooks.checkpoint.max_keep_ckpts',
        'default_hooks.checkpoint.save_best',
        'env_cfg.dist_cfg.timeout',
        'randomness.deterministic',
        'optim_wrapper.paramwise_cfg.bias_decay_mult',
        'model.roi_head.bbox_head.loss_cls.loss_weight',
        'resume',
        'param_scheduler.1.end',
    ],
)
def test_legitimate_new_cfg_options_are_accepted(det_cfg, option):
    check_cfg_options(det_cfg, {option: 1})


def test_tools_reject_an_unknown_option_before_training(load_tool, tmp_path, capsys):
    train = load_tool('tools/train.py')
    with pytest.raises(SystemExit) as exc:
        train.main([CLS_TOY, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfgs.x=2'])
    assert "did you mean 'train_cfg'" in str(exc.value.code)
    assert not os.listdir(tmp_path)


# --- defect 9: the smaller ones ----------------------------------------------------------------


def test_neck_channels_that_do_not_fit_the_backbone_are_named(tmp_path):
    with pytest.raises(ConfigCheckError, match=r'\[64, 128, 256, 512\] channels') as err:
        load_config(DET_TOY, {'model.backbone.arch': 'small', 'model.neck.in_channels': [96] * 4})
    assert 'model.neck.in_channels=[96, 96, 96, 96]' in str(err.value)


@pytest.mark.parametrize('size', [(1, 1), (2, 2048)])
def test_too_small_input_is_a_clear_error(size):
    with pytest.raises(ValueError, match=f'at least 3x3 pixels.*got {size[0]}x{size[1]}'):
        SMT('tiny')(torch.zeros(1, 3, *size))


def test_nan_pixels_warn():
    """Where data enters (check_input), or in every forward with check_finite=True."""
    image = torch.zeros(1, 3, 32, 32)
    image[0, 0, :2, 0] = float('inf')
    for check in (check_input, SMT('tiny', check_finite=True).eval()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            check(image)
        assert any('2 NaN or infinite values' in str(w.message) for w in caught)


def _seg_runner(num_classes=3):
    head = SimpleNamespace(num_classes=num_classes, ignore_index=255)
    return SimpleNamespace(model=SimpleNamespace(decode_head=head))


def test_out_of_range_segmentation_labels_name_the_file():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    sample = SegDataSample(metainfo=dict(seg_map_path='ann/bad.png'))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 1, 255, 7]]]))
    hook = TrainDataCheckHook()
    with pytest.raises(RunError, match=r'label map ann/bad.png has values \[7\] outside the 3'):
        hook.before_train_iter(_seg_runner(), 0, dict(data_samples=[sample]))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 1, 255, 2]]]))
    hook.before_train_iter(_seg_runner(), 0, dict(data_samples=[sample]))


# --- defect 7: distributed runs ----------------------------------------------------------------


def test_distributed_runs_get_a_bounded_timeout(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = load_config(CLS_TOY, launcher='pytorch')
    setup_device(cfg)
    assert cfg.env_cfg.dist_cfg.timeout == 600
    cfg = load_config(CLS_TOY, {'env_cfg.dist_cfg.timeout': 60}, launcher='pytorch')
    setup_device(cfg)
    assert cfg.env_cfg.dist_cfg.timeout == 60


def _script(path, body):
    path.write_text(f'#!/bin/sh\n{body}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def _dist_train(env):
    return subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), 'cfg.py', '2'],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_dist_train_suggests_python_when_torch_is_missing(tmp_path):
    result = _dist_train({'PYTHON': _script(tmp_path / 'python', 'exit 1')})
    assert result.returncode == 1
    assert 'cannot import torch' in result.stderr and 'PYTHON=' in result.stderr


def test_dist_train_suggests_port_when_it_is_taken(tmp_path):
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _dist_train({'PYTHON': _script(tmp_path / 'python', 'exit 0'), 'PORT': str(port)})
    assert result.returncode == 1
    assert f'port {port} is in use' in result.stderr and f'PORT={port + 1}' in result.stderr
