"""Every segmentation config loads, builds, and follows the paper's ADE20K recipe."""

import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope

from smt_mm.config import ConfigPathError, check_config_paths

from . import CONFIG_ROOT, config_paths, load_for_build

CONFIG_DIR = osp.join(CONFIG_ROOT, 'segmentation')
CONFIGS = config_paths('segmentation')
ADE_CONFIGS = [p for p in CONFIGS if not p.endswith('_toy.py')]
SMT_OFFICIAL = {'s': ('small', 'smt_small.pth', 0.2), 'b': ('base', 'smt_base.pth', 0.3)}


def load(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def test_every_recipe_of_the_paper_has_a_config():
    names = {osp.basename(p) for p in CONFIGS}
    for model in ('smt_s', 'smt_b', 'swin_t', 'swin_s', 'swin_b'):
        assert f'upernet_{model}_512x512_160k_ade20k.py' in names
    assert 'upernet_smt_t_toy.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = load_for_build(path, 'mmseg')
    # the TTA wrapper of `tools/test.py --tta` builds around the segmentor
    tta = MODELS.build(dict(**cfg.tta_model, module=cfg.model))
    assert type(tta).__name__ == 'SegTTAModel'
    model = tta.module
    assert type(model).__name__ == 'EncoderDecoder'
    smt = '_smt_' in osp.basename(path)
    assert type(model.backbone).__name__ == ('SMT' if smt else 'SwinTransformer')
    assert type(model.decode_head).__name__ == 'UPerHead'
    assert type(model.auxiliary_head).__name__ == 'FCNHead'
    classes = 5 if path.endswith('_toy.py') else 150
    assert model.decode_head.num_classes == model.auxiliary_head.num_classes == classes
    # the heads read what the backbone gives
    widths = [64, 128, 256, 512] if smt else None
    if widths:
        assert model.decode_head.in_channels == widths
        assert model.auxiliary_head.in_channels == widths[2]
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'CheckedIoUMetric'


@pytest.mark.parametrize('path', ADE_CONFIGS, ids=osp.basename)
def test_ade20k_recipe(path):
    cfg = Config.fromfile(path)
    # heads: UPerNet on the four stages, 512 channels, PPM 1/2/3/6; aux FCN on stage 3, 0.4
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert head.type == 'UPerHead' and head.in_index == [0, 1, 2, 3]
    assert head.channels == 512 and tuple(head.pool_scales) == (1, 2, 3, 6)
    assert aux.type == 'FCNHead' and aux.in_index == 2 and aux.loss_decode.loss_weight == 0.4
    assert head.norm_cfg.type == aux.norm_cfg.type == 'SyncBN'
    # AdamW 6e-5, 1500 warm-up iterations then poly (power 1) to 160k, 2 images x 8 GPUs
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 6e-5
    assert tuple(optimizer.betas) == (0.9, 0.999) and optimizer.weight_decay == 0.01
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.by_epoch) == ('LinearLR', 0, 1500, False)
    assert (poly.type, poly.power, poly.begin, poly.end) == ('PolyLR', 1.0, 1500, 160000)
    assert poly.eta_min == 0.0
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == 2
    # 512x512 crops; single-scale whole-image test at 2048x512
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    crop = cfg.train_dataloader.dataset.pipeline[types.index('RandomCrop')]
    assert tuple(crop.crop_size) == (512, 512)
    test_types = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    resize = cfg.test_dataloader.dataset.pipeline[test_types.index('Resize')]
    assert tuple(resize.scale) == (2048, 512) and resize.keep_ratio
    assert cfg.model.test_cfg.mode == 'whole'
    assert cfg.test_dataloader.dataset.type == 'ADE20KDataset'
    # multi-scale + flip TTA: ratios 0.5 ... 1.75, both flips
    tta = cfg.tta_pipeline[1]
    assert tta.type == 'TestTimeAug'
    assert [t['scale_factor'] for t in tta.transforms[0]] == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert {t['prob'] for t in tta.transforms[1]} == {0.0, 1.0}


@pytest.mark.parametrize('size', ['s', 'b'])
def test_smt_backbone_and_checkpoint(size):
    name = f'upernet_smt_{size}_512x512_160k_ade20k.py'
    arch, official, drop_path = SMT_OFFICIAL[size]
    cfg = load(name)
    backbone = cfg.model.backbone
    assert backbone.type == 'SMT' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=f'checkpoints/{official}')
    # the comment beside the shared SMT settings names the official release file
    text = open(osp.join(CONFIG_DIR, '..', '_base_', 'smt.py')).read()
    assert re.search(rf'releases/download/v1\.0\.0/{official}', text)
    # one key to override
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': '/elsewhere/x.pth'})
    assert cfg.model.backbone.init_cfg.checkpoint == '/elsewhere/x.pth'


def test_no_weight_decay_on_norm_layers():
    cfg = load('upernet_smt_s_512x512_160k_ade20k.py')
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    norm_types = (torch.nn.LayerNorm, torch.nn.modules.batchnorm._BatchNorm)
    norm_params = {
        id(p) for m in model.modules() if isinstance(m, norm_types) for p in m.parameters()
    }
    assert norm_params
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            name = names[id(param)]
            if id(param) in norm_params:
                assert group['weight_decay'] == 0.0, name
            elif name.endswith('.weight') and param.ndim > 1:
                assert group['weight_decay'] == 0.01, name


@pytest.mark.parametrize(
    'name', ['upernet_smt_s_512x512_160k_ade20k.py', 'upernet_swin_t_512x512_160k_ade20k.py']
)
def test_missing_paths_name_the_key(name, tmp_path):
    cfg = load(name)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises(ConfigPathError) as err:
        check_config_paths(cfg, 'train')
    message = str(err.value)
    assert 'model.backbone.init_cfg.checkpoint' in message and 'missing.pth' in message
    assert 'train_dataloader.dataset.data_root' in message
    with pytest.raises(ConfigPathError, match='test_dataloader.dataset.data_root'):
        check_config_paths(cfg, 'test')
