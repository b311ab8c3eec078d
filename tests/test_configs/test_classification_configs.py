"""Every classification config loads, builds and follows the official SMT recipe."""

import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope

from . import CONFIG_ROOT, config_paths, load_for_build

CONFIG_DIR = osp.join(CONFIG_ROOT, 'classification')
CONFIGS = config_paths('classification')
IMAGENET_CONFIGS = [p for p in CONFIGS if not p.endswith('_toy.py')]

# name: (arch, drop path, epochs, lr per 512 images, warm-up start / end lr per 512 images,
#        classes, image size)
RECIPES = {
    'smt_t_in1k_224.py': ('tiny', 0.1, 300, 1e-3, 1e-7, 1e-6, 1000, 224),
    'smt_s_in1k_224.py': ('small', 0.2, 300, 1e-3, 1e-7, 1e-6, 1000, 224),
    'smt_b_in1k_224.py': ('base', 0.3, 300, 1e-3, 1e-7, 1e-6, 1000, 224),
    'smt_l_in1k_224.py': ('large', 0.4, 300, 1e-3, 1e-7, 1e-6, 1000, 224),
    'smt_l_in22k_224.py': ('large', 0.1, 90, 1.25e-4, 1.25e-7, 1.25e-6, 21841, 224),
    'smt_l_in22k_to_in1k_224.py': ('large', 0.1, 30, 1e-5, 1e-8, 1e-7, 1000, 224),
    'smt_l_in22k_to_in1k_384.py': ('large', 0.1, 30, 2e-5, 2e-8, 2e-7, 1000, 384),
}
NUM_GPUS = 8


def test_every_recipe_of_the_paper_has_a_config():
    names = {osp.basename(p) for p in IMAGENET_CONFIGS}
    assert names == set(RECIPES)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = load_for_build(path, 'mmpretrain')
    assert dict(type='SMTCheckpointHook') in cfg.custom_hooks
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'ImageClassifier'
    assert type(model.backbone).__name__ == 'SMT'
    assert model.backbone.out_type == 'avg_featmap' and model.backbone.out_indices == (3,)
    assert model.head.fc.in_features == model.backbone.embed_dims[-1]
    assert model.head.fc.out_features == cfg.model.head.num_classes
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, cfg.model.head.num_classes) and torch.isfinite(logits).all()


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_official_recipe(name):
    arch, drop_path, epochs, lr512, warm512, min512, classes, size = RECIPES[name]
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    backbone = cfg.model.backbone
    assert backbone.arch == arch and backbone.drop_path_rate == drop_path
    if arch == 'large':
        assert backbone.use_layerscale is True
    assert cfg.model.head.num_classes == classes == cfg.data_preprocessor.num_classes
    assert cfg.model.head.loss == dict(
        type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'
    )
    assert cfg.model.train_cfg.augments == [
        dict(type='Mixup', alpha=0.2),
        dict(type='CutMix', alpha=1.0),
    ]

    # lr scales linearly: per 512 images times (GPUs x images per GPU) / 512
    batch = NUM_GPUS * cfg.train_dataloader.batch_size
    assert cfg.auto_scale_lr.base_batch_size == batch
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.weight_decay == 0.05
    assert optimizer.lr == pytest.approx(lr512 * batch / 512)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=5.0)
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'  # AMP is --amp
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 5)
    assert warmup.start_factor * lr512 == pytest.approx(warm512)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR', 5, epochs)
    assert cosine.eta_min_ratio * lr512 == pytest.approx(min512)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based  # per iteration
    assert cfg.train_cfg.max_epochs == epochs

    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert train['RandomResizedCrop'].scale == size
    assert train['RandomResizedCrop'].interpolation == 'bicubic'
    assert train['RandomFlip'].prob == 0.5
    rand_augment = train['RandAugment']
    assert rand_augment.policies == 'timm_increasing' and rand_augment.num_policies == 2
    assert (rand_augment.magnitude_level, rand_augment.magnitude_std) == (9, 0.5)
    assert train['RandomErasing'].erase_prob == 0.25 and train['RandomErasing'].mode == 'rand'
    # timm turns color jitter off when RandAugment is on: the official runs had none
    assert 'ColorJitter' not in train
    expected_dataset = 'ImageNet21k' if classes == 21841 else 'ImageNet'
    assert cfg.train_dataloader.dataset.type == expected_dataset
    assert cfg.val_dataloader.dataset.type == expected_dataset

    if name.startswith('smt_l_in22k_to_in1k'):
        assert backbone.init_cfg == dict(
            type='Pretrained', checkpoint='checkpoints/smt_large_22k.pth'
        )


def _run_test_pipeline(cfg: Config, height: int, width: int) -> torch.Tensor:
    init_default_scope('mmpretrain')
    transforms = [
        t for t in cfg.test_dataloader.dataset.pipeline if t['type'] != 'LoadImageFromFile'
    ]
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    results = Compose(transforms)(
        dict(img=image, img_shape=(height, width), ori_shape=(height, width))
    )
    return results['inputs']


@pytest.mark.parametrize(
    'name,expected',
    [('smt_t_in1k_224.py', (224, 224)), ('smt_l_in22k_to_in1k_384.py', (384, 384))],
)
def test_test_pipeline_output_size(name, expected):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    types = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    if expected == (224, 224):
        # short side to 256 (bicubic), then the center 224 x 224
        assert types == ['LoadImageFromFile', 'ResizeEdge', 'CenterCrop', 'PackInputs']
        assert cfg.test_dataloader.dataset.pipeline[1].scale == 256
        assert cfg.test_dataloader.dataset.pipeline[1].interpolation == 'bicubic'
    else:
        # the whole image to 384 x 384, no crop (the official TEST.CROP=False)
        assert types == ['LoadImageFromFile', 'Resize', 'PackInputs']
        assert cfg.test_dataloader.dataset.pipeline[1].interpolation == 'bicubic'
    assert tuple(_run_test_pipeline(cfg, 300, 500).shape) == (3, *expected)


def test_no_weight_decay_on_one_dimensional_parameters():
    """The official rule: norms, biases and layer scales are not decayed, everything else is."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'smt_l_in1k_224.py'))
    cfg.model.backbone.arch = dict(
        embed_dims=(8, 16, 32, 64), depths=(1, 1, 2, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3
    )
    cfg.model.head.in_channels = 64
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert any('gamma' in name for name, _ in model.named_parameters())
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups for p in g['params']}
    for name, param in model.named_parameters():
        expected = 0.0 if param.ndim == 1 else 0.05
        assert decay[id(param)] == pytest.approx(expected), name
