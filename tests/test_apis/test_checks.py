import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

from smt_mm.config import ConfigPathError, check_config_paths, collect_config_paths
from smt_mm.demo import toy_data_options
from smt_mm.toydata import generate_coco

ROOT = REPO_ROOT
TOY = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
SMT_S = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_s_1x.py')
VAL_ANN = 'annotations/instances_val2017.json'


def options(data_root):
    return toy_data_options(str(data_root), VAL_ANN)


def test_missing_checkpoint_and_data_are_reported_with_their_keys(tmp_path):
    cfg = Config.fromfile(SMT_S)
    cfg.merge_from_dict(
        {
            'model.backbone.init_cfg.checkpoint': str(tmp_path / 'nope.pth'),
            'train_dataloader.dataset.data_root': str(tmp_path / 'no_coco') + '/',
        }
    )
    with pytest.raises(ConfigPathError) as info:
        check_config_paths(cfg, 'train')
    message = str(info.value)
    assert 'model.backbone.init_cfg.checkpoint' in message
    assert str(tmp_path / 'nope.pth') in message
    assert 'train_dataloader.dataset.data_root' in message
    assert 'no_coco' in message
    keys = {key for key, _, _ in info.value.missing}
    # the val set is read by training too; a missing root hides its children
    assert 'val_dataloader.dataset.data_root' in keys
    assert 'train_dataloader.dataset.ann_file' not in keys


def test_complete_toy_config_passes_and_files_are_checked(tmp_path):
    generate_coco(str(tmp_path), num_train=2, num_val=1, height=48, width=48)
    cfg = Config.fromfile(TOY)
    cfg.merge_from_dict(options(tmp_path))
    check_config_paths(cfg, 'train')
    keys = {key for key, _, _ in collect_config_paths(cfg, 'train')}
    assert {
        'train_dataloader.dataset.ann_file',
        'train_dataloader.dataset.data_prefix.img',
        'val_evaluator.ann_file',
    } <= keys
    (tmp_path / 'annotations' / 'instances_val2017.json').unlink()
    with pytest.raises(ConfigPathError, match='val_dataloader.dataset.ann_file'):
        check_config_paths(cfg, 'train')
    cfg.load_from = str(tmp_path / 'missing.pth')
    with pytest.raises(ConfigPathError, match='load_from'):
        check_config_paths(cfg, 'test')
    with pytest.raises(ValueError, match='mode'):
        collect_config_paths(cfg, 'eval')


def test_wrapped_datasets_and_remote_checkpoints():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='https://x/y.pth'))
            ),
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    times=2,
                    dataset=dict(type='CocoDataset', data_root='/no/such/root/'),
                )
            ),
        )
    )
    found = collect_config_paths(cfg, 'train')
    assert found == [
        ('train_dataloader.dataset.dataset.data_root', '/no/such/root/', 'dataset root')
    ]


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_tools_fail_at_start_naming_path_and_key(tmp_path, tool):
    missing = str(tmp_path / 'absent_root')
    cmd = [sys.executable, osp.join(ROOT, 'tools', f'{tool}.py'), TOY]
    if tool == 'test':
        cmd.append(str(tmp_path / 'absent.pth'))
    cmd += ['--work-dir', str(tmp_path / 'work'), '--cfg-options']
    cmd += [f'{key}={value}' for key, value in options(missing).items()]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 1
    assert 'absent_root' in result.stderr
    assert f'{tool}_dataloader.dataset.data_root' in result.stderr
    if tool == 'test':
        assert 'absent.pth' in result.stderr and 'load_from' in result.stderr
    assert 'Traceback' not in result.stderr
