"""The one config reader (``smt_mm.config.load_config``) and model builder (``build_model``)."""

import os.path as osp
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import DefaultScope

from smt_mm.apis import build_model
from smt_mm.config import ConfigCheckError, load_config
from smt_mm.models.checkpoint import CheckpointMismatchError

CLS_TOY = osp.join(REPO_ROOT, 'configs', 'classification', 'smt_t_toy.py')
DET_TOY = osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')


def _same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    return all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


def test_load_config_reads_a_path_or_copies_a_config():
    cfg = load_config(Path(CLS_TOY), {'model.head.num_classes': 3}, launcher='pytorch')
    assert cfg.model.head.num_classes == 3 and cfg.launcher == 'pytorch'
    assert cfg.work_dir == osp.join('./work_dirs', 'smt_t_toy')
    assert DefaultScope.get_current_instance().scope_name == 'mmpretrain'
    original = Config.fromfile(DET_TOY)
    copied = load_config(original, {'model.backbone.drop_path_rate': 0.3}, work_dir='here')
    assert copied.model.backbone.drop_path_rate == 0.3 and copied.work_dir == 'here'
    assert original.model.backbone.drop_path_rate != 0.3 and 'launcher' not in original
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'


def test_load_config_refuses_what_it_cannot_read():
    with pytest.raises(FileNotFoundError, match='config file not found'):
        load_config('configs/missing.py')
    with pytest.raises(ValueError, match='launcher must be one of'):
        load_config(CLS_TOY, launcher='ssh')
    with pytest.raises(ValueError, match='default_scope=None is not supported'):
        load_config(Config(dict(model=dict(type='SMT'))))
    with pytest.raises(ConfigCheckError, match="did you mean 'train_cfg'"):
        load_config(CLS_TOY, {'train_cfgs.max_epochs': 1})


def test_build_model_is_seeded_in_eval_mode_with_its_config():
    model = build_model(CLS_TOY, cfg_options={'model.head.num_classes': 3})
    assert not model.training and model.head.fc.out_features == 3
    # mmpretrain's top-level data_preprocessor goes into the model, as the Runner puts it
    assert model.cfg.model.data_preprocessor.num_classes == 4
    assert model.data_preprocessor.to_rgb
    assert _same_weights(model, build_model(CLS_TOY, cfg_options={'model.head.num_classes': 3}))
    other = build_model(CLS_TOY, cfg_options={'model.head.num_classes': 3}, seed=1)
    assert not _same_weights(model, other)


def test_build_model_loads_checkpoints_strictly(tmp_path):
    trained = build_model(CLS_TOY, seed=1)
    path = str(tmp_path / 'trained.pth')
    torch.save({'state_dict': trained.state_dict(), 'meta': {}}, path)
    assert _same_weights(build_model(CLS_TOY, path), trained)

    wrapped = {f'module.{k}': v for k, v in trained.state_dict().items()}  # saved under DDP
    torch.save({'state_dict': wrapped}, path)
    assert _same_weights(build_model(CLS_TOY, path), trained)

    state = dict(trained.state_dict())
    state.pop('head.fc.bias')
    torch.save({'state_dict': state}, path)
    with pytest.raises(CheckpointMismatchError, match=r"missing keys: \['head.fc.bias'\]"):
        build_model(CLS_TOY, path)
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        build_model(CLS_TOY, str(tmp_path / 'missing.pth'))
