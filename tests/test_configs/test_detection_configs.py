"""Every detection config loads, builds (backbone weights off) and follows the paper's recipe."""

import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from . import CONFIG_ROOT, config_paths, load_for_build

CONFIG_DIR = osp.join(CONFIG_ROOT, 'detection')
CONFIGS = config_paths('detection')
COCO_CONFIGS = [p for p in CONFIGS if not p.endswith('_toy.py')]
SMT_OFFICIAL = {'s': 'smt_small.pth', 'b': 'smt_base.pth'}
# What mmdet's Swin 3x configs change in its 1x ones: multi-scale + crop training, 36 epochs.
SCHEDULE_KEYS = {'train_pipeline', 'train_dataloader', 'max_epochs', 'train_cfg', 'param_scheduler'}


def load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def test_every_recipe_of_the_paper_has_a_config():
    names = {osp.basename(p) for p in CONFIGS}
    for model in ('smt_s', 'smt_b', 'swin_t', 'swin_s'):
        for schedule in ('1x', '3x'):
            assert f'mask_rcnn_{model}_{schedule}.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = load_for_build(path, 'mmdet')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'MaskRCNN'
    classes = 4 if path.endswith('_toy.py') else 80
    assert model.roi_head.bbox_head.num_classes == classes
    assert model.roi_head.mask_head.num_classes == classes
    backbone = 'SMT' if '_smt_' in osp.basename(path) else 'SwinTransformer'
    assert type(model.backbone).__name__ == backbone
    # the TTA wrapper builds around the detector
    tta = MODELS.build(dict(**cfg.tta_model, module=cfg.model))
    assert type(tta).__name__ == 'MaskDetTTAModel'


@pytest.mark.parametrize('path', COCO_CONFIGS, ids=osp.basename)
def test_coco_recipe(path):
    name = osp.basename(path)
    cfg = Config.fromfile(path)
    three_x = name.endswith('_3x.py')
    assert cfg.train_cfg.max_epochs == (36 if three_x else 12)
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and not warmup.by_epoch
    assert steps.milestones == ([27, 33] if three_x else [8, 11])
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # AMP is the --amp switch
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.weight_decay == 0.05
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    pipeline_types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    if three_x:
        choice = cfg.train_dataloader.dataset.pipeline[pipeline_types.index('RandomChoice')]
        single, crop = choice.transforms
        assert single[0].scales[0] == (480, 1333) and single[0].scales[-1] == (800, 1333)
        assert [t['type'] for t in crop] == [
            'RandomChoiceResize',
            'RandomCrop',
            'RandomChoiceResize',
        ]
        assert crop[1].crop_size == (384, 600)
    else:
        resize = cfg.train_dataloader.dataset.pipeline[pipeline_types.index('Resize')]
        assert resize.scale == (1333, 800)
    # multi-scale + flip TTA
    tta = cfg.tta_pipeline[1]
    assert tta.type == 'TestTimeAug'
    assert len(tta.transforms[0]) >= 3 and {t['prob'] for t in tta.transforms[1]} == {0.0, 1.0}


@pytest.mark.parametrize('size', ['s', 'b'])
@pytest.mark.parametrize('schedule', ['1x', '3x'])
def test_smt_recipe(size, schedule):
    cfg = load(f'mask_rcnn_smt_{size}_{schedule}.py')
    backbone = cfg.model.backbone
    assert backbone.type == 'SMT' and backbone.arch == {'s': 'small', 'b': 'base'}[size]
    expected_drop_path = 0.3 if (size, schedule) == ('b', '3x') else 0.2
    assert backbone.drop_path_rate == expected_drop_path
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint=f'checkpoints/{SMT_OFFICIAL[size]}'
    )
    assert cfg.model.neck.in_channels == [64, 128, 256, 512]
    assert cfg.optim_wrapper.optimizer.lr == 2e-4
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0
    # the comment beside `pretrained` names the release file
    defining = f'mask_rcnn_smt_b_{schedule}.py' if size == 'b' else '_base_/mask_rcnn_smt.py'
    with open(osp.join(CONFIG_DIR, defining)) as f:
        assert f'releases/download/v1.0.0/{SMT_OFFICIAL[size]}' in f.read()


def test_smt_checkpoint_is_one_override_away():
    cfg = load('mask_rcnn_smt_b_1x.py')
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': '/elsewhere/smt_base.pth'})
    assert cfg.model.backbone.init_cfg.checkpoint == '/elsewhere/smt_base.pth'


def test_no_weight_decay_on_norms_and_layer_scale():
    from mmengine.optim import build_optim_wrapper

    cfg = load('mask_rcnn_smt_s_1x.py')
    # SMT-T with layer scale keeps the model small while covering the gamma parameters
    cfg.model.backbone.update(arch='tiny', use_layerscale=True, init_cfg=None)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    decay = {}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            decay[names[id(param)]] = group['weight_decay']
    norm_params = [n for n in decay if '.norm' in n or 'norms.' in n]
    assert norm_params and all(decay[n] == 0.0 for n in norm_params)
    gammas = [n for n in decay if n.split('.')[-1] in ('gamma1', 'gamma2')]
    assert gammas and all(decay[n] == 0.0 for n in gammas)
    assert decay['roi_head.bbox_head.shared_fcs.0.weight'] == 0.05


def test_swin_s_1x_is_swin_t_1x_with_swin_s_depths():
    t, s = load('mask_rcnn_swin_t_1x.py'), load('mask_rcnn_swin_s_1x.py')
    assert s.model.backbone.depths == [2, 2, 18, 2]
    assert 'swin_small' in s.model.backbone.init_cfg.checkpoint
    assert s.param_scheduler == t.param_scheduler
    assert s.optim_wrapper == t.optim_wrapper


@pytest.mark.parametrize('model', ['smt_s', 'smt_b', 'swin_t', 'swin_s'])
def test_1x_and_3x_differ_only_in_schedule(model):
    """The 3x configs change the 1x ones in the training data pipeline and the schedule only."""
    one, three = (load(f'mask_rcnn_{model}_{schedule}.py').to_dict() for schedule in ('1x', '3x'))
    differ = {key for key in one.keys() | three.keys() if one.get(key) != three.get(key)}
    assert differ == SCHEDULE_KEYS | ({'model'} if model == 'smt_b' else set())
    if model == 'smt_b':  # and SMT-B's drop path, 0.2 at 1x, 0.3 at 3x
        three['model']['backbone']['drop_path_rate'] = 0.2
        assert three['model'] == one['model']


def test_toy_tta_changes_only_the_scales():
    coco, toy = load('mask_rcnn_smt_s_1x.py'), load('mask_rcnn_smt_t_toy.py')
    assert toy.tta_model == coco.tta_model
    assert toy.tta_pipeline[0] == coco.tta_pipeline[0]
    toy_tta, coco_tta = toy.tta_pipeline[1], coco.tta_pipeline[1]
    resizes = toy_tta.transforms[0]
    assert [r.scale for r in resizes] == toy.tta_img_scales == [(96, 96), (128, 128), (160, 160)]
    for resize, coco_resize in zip(resizes, coco_tta.transforms[0], strict=True):
        assert resize == dict(coco_resize, scale=resize.scale)
    assert toy_tta.transforms[1:] == coco_tta.transforms[1:]
