"""Every detection config loads, builds (backbone weights off) and follows the paper's recipe."""

import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from . import CONFIG_ROOT, config_paths, load_for_build

CONFIG_DIR = osp.join(CONFIG_ROOT, 'detection')
CONFIGS = config_paths('detection')
MASK_RCNN_COCO = [p for p in CONFIGS if osp.basename(p).startswith('mask_rcnn_') and 'toy' not in p]
# The paper's other detectors: config prefix -> mmdet detector class
DETECTORS = {
    'mask_rcnn': 'MaskRCNN',
    'cascade_mask_rcnn': 'CascadeRCNN',
    'retinanet': 'RetinaNet',
    'atss': 'ATSS',
    'sparse_rcnn': 'SparseRCNN',
    'dino_4scale': 'DINO',
}
SCHEDULES = {'cascade_mask_rcnn': '3x', 'retinanet': '3x', 'atss': '3x', 'sparse_rcnn': '3x'}
SCHEDULES['dino_4scale'] = '12e'
# The official recipes (github AFeng-x/SMT, detection/configs/): optimizer, lr, weight decay,
# gradient clip, SMT-S / SMT-B drop path. DINO has none: mmdet's DINO-4scale recipe.
OFFICIAL = {
    'cascade_mask_rcnn': dict(lr=1e-4, weight_decay=0.05, clip=None, drop_path=(0.2, 0.3)),
    'retinanet': dict(lr=1e-4, weight_decay=0.05, clip=None, drop_path=(0.2, 0.3)),
    'atss': dict(lr=1e-4, weight_decay=0.05, clip=None, drop_path=(0.2, 0.3)),
    'sparse_rcnn': dict(lr=2.5e-5, weight_decay=1e-4, clip=1, drop_path=(0.2, 0.2)),
    'dino_4scale': dict(lr=1e-4, weight_decay=1e-4, clip=0.1, drop_path=(0.2, 0.3)),
}


def detector_of(path: str) -> str:
    """The config-name prefix of a detector, e.g. ``'cascade_mask_rcnn'``."""
    name = osp.basename(path)
    return max((p for p in DETECTORS if name.startswith(p + '_')), key=len)


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
    for detector, schedule in SCHEDULES.items():
        for model in ('smt_s', 'smt_b', 'swin_t'):
            assert f'{detector}_{model}_{schedule}.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = load_for_build(path, 'mmdet')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == DETECTORS[detector_of(path)]
    backbone = 'SMT' if '_smt_' in osp.basename(path) else 'SwinTransformer'
    assert type(model.backbone).__name__ == backbone
    if detector_of(path) == 'mask_rcnn':
        classes = 4 if path.endswith('_toy.py') else 80
        assert model.roi_head.bbox_head.num_classes == classes
        assert model.roi_head.mask_head.num_classes == classes
    if 'tta_model' in cfg:  # the TTA wrapper builds around the detector
        tta = MODELS.build(dict(**cfg.tta_model, module=cfg.model))
        masks = 'mask_rcnn' in osp.basename(path)
        assert type(tta).__name__ == ('MaskDetTTAModel' if masks else 'DetTTAModel')


@pytest.mark.parametrize('path', MASK_RCNN_COCO, ids=osp.basename)
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
    with open(osp.join(CONFIG_DIR, '..', '_base_', 'smt.py')) as f:  # the shared SMT settings
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


@pytest.mark.parametrize('detector', OFFICIAL)
@pytest.mark.parametrize('size', ['s', 'b'])
def test_official_recipe(detector, size):
    official = OFFICIAL[detector]
    cfg = load(f'{detector}_smt_{size}_{SCHEDULES[detector]}.py')
    backbone = cfg.model.backbone
    assert backbone.type == 'SMT' and backbone.arch == {'s': 'small', 'b': 'base'}[size]
    assert backbone.drop_path_rate == official['drop_path']['sb'.index(size)]
    assert backbone.init_cfg.checkpoint == f'checkpoints/{SMT_OFFICIAL[size]}'
    optim_wrapper = cfg.optim_wrapper
    assert optim_wrapper.type == 'OptimWrapper'  # AMP is the --amp switch
    assert set(optim_wrapper.optimizer) <= {'type', 'lr', 'betas', 'weight_decay'}  # no momentum
    assert optim_wrapper.optimizer.type == 'AdamW'
    assert optim_wrapper.optimizer.lr == official['lr']
    assert optim_wrapper.optimizer.weight_decay == official['weight_decay']
    assert (optim_wrapper.get('clip_grad') or {}).get('max_norm') == official['clip']
    three_x = SCHEDULES[detector] == '3x'
    assert cfg.train_cfg.max_epochs == (36 if three_x else 12)
    assert cfg.param_scheduler[-1].milestones == ([27, 33] if three_x else [11])
    assert cfg.train_dataloader.batch_size == 2 and cfg.auto_scale_lr.base_batch_size == 16
    if three_x:  # DETR's multi-scale + crop training
        transforms = cfg.train_dataloader.dataset.pipeline
        choice = next(t for t in transforms if t['type'] == 'RandomChoice')
        assert choice.transforms[1][1].crop_size == (384, 600)


def test_detector_heads_of_the_paper():
    cascade = load('cascade_mask_rcnn_smt_s_3x.py').model.roi_head.bbox_head
    assert [h.num_shared_convs for h in cascade] == [4, 4, 4]
    assert {h.loss_bbox.type for h in cascade} == {'GIoULoss'}
    assert {h.norm_cfg.type for h in cascade} == {'SyncBN'}
    sparse = load('sparse_rcnn_smt_s_3x.py').model
    assert sparse.rpn_head.num_proposals == sparse.test_cfg.rcnn.max_per_img == 300
    # the FPNs start at C3 from all four SMT outputs (the official ATSS neck took three inputs)
    for detector, extra in (('retinanet', 'on_input'), ('atss', 'on_output')):
        neck = load(f'{detector}_smt_s_3x.py').model.neck
        assert neck.in_channels == [64, 128, 256, 512]
        assert neck.start_level == 1 and neck.add_extra_convs == extra
    dino = load('dino_4scale_smt_s_12e.py').model
    assert dino.backbone.out_indices == (1, 2, 3) and dino.neck.in_channels == [128, 256, 512]


def test_box_only_crop_pipeline_is_mmdets():
    """RetinaNet / ATSS train on mmdet's Sparse R-CNN 3x crop pipeline, written once here."""
    sparse = load('sparse_rcnn_smt_s_3x.py').train_dataloader.dataset.pipeline
    for detector in ('retinanet', 'atss'):
        assert load(f'{detector}_smt_s_3x.py').train_dataloader.dataset.pipeline == sparse
    # and the Swin 3x schedule (mmdet marks its own dicts with their scope)
    swin = [dict(s, _scope_=None) for s in load('mask_rcnn_swin_t_3x.py').param_scheduler]
    ours = [dict(s, _scope_=None) for s in load('retinanet_smt_s_3x.py').param_scheduler]
    assert ours == swin


@pytest.mark.parametrize('detector', SCHEDULES)
def test_swin_twin_differs_only_in_backbone(detector):
    """A Swin-T twin has its SMT-S config's heads, schedule and data; only the backbone differs."""
    schedule = SCHEDULES[detector]
    smt = load(f'{detector}_smt_s_{schedule}.py').to_dict()
    swin = load(f'{detector}_swin_t_{schedule}.py').to_dict()
    assert swin['model']['backbone']['type'] == 'SwinTransformer'
    smt_neck, swin_neck = smt['model'].pop('neck'), swin['model'].pop('neck')
    smt['model'].pop('backbone'), swin['model'].pop('backbone')
    assert swin['model'] == smt['model']
    assert {k: v for k, v in swin_neck.items() if k not in ('in_channels', 'start_level')} == {
        k: v for k, v in smt_neck.items() if k not in ('in_channels', 'start_level')
    }
    paramwise = ('paramwise_cfg',)
    assert {k: v for k, v in swin['optim_wrapper'].items() if k not in paramwise} == {
        k: v for k, v in smt['optim_wrapper'].items() if k not in paramwise
    }
    helpers = ('swin_t_backbone', 'swin_t_in_channels', 'swin_paramwise_cfg')
    differ = {k for k in smt.keys() | swin.keys() if smt.get(k) != swin.get(k)}
    assert differ <= {'model', 'optim_wrapper', *helpers}


def test_swin_t_backbone_is_mmdets_swin_t():
    mmdet_swin = load('mask_rcnn_swin_t_3x.py').model.backbone
    ours = load('retinanet_swin_t_3x.py').model.backbone
    init_default_scope('mmdet')
    built = [
        MODELS.build(dict(b, init_cfg=None, out_indices=(1, 2, 3))) for b in (mmdet_swin, ours)
    ]
    shapes = [{k: v.shape for k, v in b.state_dict().items()} for b in built]
    assert shapes[0] == shapes[1]
    assert ours.drop_path_rate == mmdet_swin.drop_path_rate
    assert ours.init_cfg == mmdet_swin.init_cfg
