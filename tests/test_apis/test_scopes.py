import json
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config

from smt_mm.apis import prepare_train_config, write_eval_json
from smt_mm.apis.runner import _revert_sync_bn
from smt_mm.config import add_dump_results, apply_tta, enable_visualization, get_scope, load_config
from smt_mm.config.scopes import CLASSIFICATION_SHOW_SIZE
from smt_mm.visualization.panels import MIN_PANEL

ROOT = REPO_ROOT
TOY = osp.join(ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
RUNTIMES = {
    'mmdet': 'mmdet::_base_/default_runtime.py',
    'mmseg': ['mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py'],
    'mmpretrain': 'mmpretrain::_base_/default_runtime.py',
}


def runtime(scope: str, tmp_path) -> Config:
    path = tmp_path / f'{scope}_runtime.py'
    path.write_text(f'_base_ = {RUNTIMES[scope]!r}\n')
    cfg = Config.fromfile(str(path))
    cfg.test_evaluator = dict(type='SomeMetric')
    return cfg


def test_get_scope(tmp_path):
    for scope in RUNTIMES:
        assert get_scope(runtime(scope, tmp_path)) == scope
    with pytest.raises(ValueError, match='default_scope'):
        get_scope(Config(dict(default_scope='mmocr')))


def test_load_config_sets_work_dir_and_checks_inputs(tmp_path):
    cfg = load_config(TOY, {'train_cfg.max_iters': 7})
    assert cfg.train_cfg.max_iters == 7
    assert cfg.work_dir == osp.join('./work_dirs', 'mask_rcnn_smt_t_toy')
    assert cfg.launcher == 'none'
    assert load_config(TOY, work_dir=str(tmp_path)).work_dir == str(tmp_path)
    with pytest.raises(FileNotFoundError, match='no_such.py'):
        load_config('no_such.py')
    with pytest.raises(ValueError, match='launcher'):
        load_config(TOY, launcher='ssh')


@pytest.mark.parametrize('scope', list(RUNTIMES))
def test_show_dir_reaches_the_scope_hook(scope, tmp_path):
    cfg = runtime(scope, tmp_path)
    enable_visualization(cfg, show_dir='pics')
    hook = cfg.default_hooks.visualization
    if scope == 'mmdet':
        assert hook.draw and hook.test_out_dir == 'pics'
        assert cfg.visualizer.type == 'SMTDetLocalVisualizer'
    elif scope == 'mmseg':
        assert hook.draw and cfg.visualizer.save_dir == 'pics'
        assert cfg.visualizer.type == 'SMTSegLocalVisualizer'
    else:
        assert hook.enable and hook.out_dir == 'pics'
        assert cfg.visualizer.type == 'UniversalVisualizer'  # mmpretrain's own, enlarged
        assert hook.resize == CLASSIFICATION_SHOW_SIZE == MIN_PANEL
    own = runtime(scope, tmp_path)
    own.visualizer.type = 'MyVisualizer'  # a config's own visualiser is kept
    enable_visualization(own, show_dir='pics')
    assert own.visualizer.type == 'MyVisualizer'
    # each run its own visualiser (mmengine shares one per name within a process)
    assert cfg.visualizer.name != own.visualizer.name
    assert cfg.visualizer.name != runtime(scope, tmp_path).visualizer.get('name')  # the configs'
    del cfg.default_hooks['visualization']
    with pytest.raises(RuntimeError, match='visualization hook'):
        enable_visualization(cfg, show_dir='pics')


def test_tta_wraps_model_and_swaps_pipeline(tmp_path):
    cfg = Config.fromfile(TOY)
    detector = cfg.model.copy()
    apply_tta(cfg)
    assert cfg.model.type == 'MaskDetTTAModel'
    assert cfg.model.module == detector
    assert cfg.test_dataloader.dataset.pipeline == cfg.tta_pipeline
    with pytest.raises(KeyError, match='tta_model and tta_pipeline'):
        apply_tta(runtime('mmdet', tmp_path))
    with pytest.raises(KeyError, match='needs tta_pipeline'):
        apply_tta(runtime('mmseg', tmp_path))  # mmseg's runtime has a tta_model only


@pytest.mark.parametrize('scope', list(RUNTIMES))
def test_out_dumps_like_the_scope(scope, tmp_path):
    cfg = runtime(scope, tmp_path)
    if scope == 'mmseg':
        add_dump_results(cfg, 'seg_out')
        assert cfg.test_evaluator.output_dir == 'seg_out' and cfg.test_evaluator.keep_results
        return
    with pytest.raises(ValueError, match='.pkl'):
        add_dump_results(cfg, 'preds.json')
    add_dump_results(cfg, 'preds.pkl')
    dump = cfg.test_evaluator[-1]
    assert dump.type == ('DumpDetResults' if scope == 'mmdet' else 'DumpResults')
    assert dump.out_file_path == 'preds.pkl'


def test_train_switches():
    cfg = load_config(TOY)
    prepare_train_config(cfg, resume='auto', start_fresh_if_none=True)  # nothing to resume
    assert cfg.resume is False and cfg.load_from is None
    prepare_train_config(cfg, resume='some.pth', auto_scale_lr=True)
    assert cfg.load_from == 'some.pth' and cfg.auto_scale_lr.enable
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
            prepare_train_config(cfg, amp=True)
    else:
        prepare_train_config(cfg, amp=True)
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'


def test_sync_bn_reverted_for_cpu():
    model = dict(
        backbone=dict(norm_cfg=dict(type='SyncBN')), heads=[dict(norm_cfg=dict(type='SyncBN'))]
    )
    assert _revert_sync_bn(model) == 2
    assert model['backbone']['norm_cfg']['type'] == 'BN'
    assert model['heads'][0]['norm_cfg']['type'] == 'BN'


def test_eval_json_holds_plain_numbers(tmp_path):
    path = write_eval_json(
        str(tmp_path / 'sub' / 'eval.json'),
        dict(metrics={'a': np.float64(0.5), 'b': torch.tensor(2.0), 'c': [np.int64(3)]}),
    )
    with open(path) as f:
        assert json.load(f) == {'metrics': {'a': 0.5, 'b': 2.0, 'c': [3]}}
