"""Whole detectors and segmentors saved by the official SMT code (mmdet 2.x / mmseg 0.x).

The synthetic official checkpoints are smt_mm models renamed into the official layout by
``to_official_layout`` (the inverse of the converter on the reference model) and saved the way
mmcv 1.x's runner saves them (``meta`` with the toolbox version and ``CLASSES``, ``state_dict``,
``optimizer``). Loading must convert them, strictly, to the very same weights.
"""

import glob
import os.path as osp
import pickle
from copy import deepcopy

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from smt_reference import to_official_layout

from smt_mm.apis import build_model
from smt_mm.demo import toy_data_options
from smt_mm.models.backbones import SMT
from smt_mm.models.checkpoint import convert_official_checkpoint
from smt_mm.toydata import generate_ade20k, generate_coco

DET_TOY = 'configs/detection/mask_rcnn_smt_t_toy.py'
SEG_TOY = 'configs/segmentation/upernet_smt_t_toy.py'
NO_PRETRAINED = {'model.backbone.init_cfg': None}
#: mmcv 1.x meta of each toolbox's official checkpoints.
META = {
    'mmdet': dict(mmdet_version='2.28.2', CLASSES=('circle', 'rectangle', 'triangle', 'star')),
    'mmseg': dict(mmseg_version='0.30.0', CLASSES=('background', 'circle'), PALETTE=[[0, 0, 0]]),
}


def randomized_model(config, seed):
    """The config's model, initialised, with every weight and BN statistic perturbed."""
    torch.manual_seed(seed)
    model = build_model(config)
    model.init_weights()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(0.02 * torch.randn_like(tensor))
                if name.endswith('running_var'):
                    tensor.abs_()
    return model.eval()


def blank_copy(model):
    """The same architecture with every weight zeroed: what loading must fill in."""
    copy = deepcopy(model)
    with torch.no_grad():
        for tensor in copy.state_dict().values():
            tensor.zero_()
    return copy


def official_checkpoint(model, arch, toolbox):
    """An official-format checkpoint of ``model``'s weights, as mmcv 1.x saves it."""
    meta = dict(META[toolbox], epoch=36, iter=88000, config='model = dict(...)')
    optimizer = dict(state={}, param_groups=[dict(lr=1e-4, weight_decay=0.05, params=[0])])
    state_dict = to_official_layout(model.state_dict(), arch)
    return dict(meta=meta, state_dict=state_dict, optimizer=optimizer)


def assert_same_weights(model, reference):
    expected = reference.state_dict()
    loaded = model.state_dict()
    assert list(loaded) == list(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


@pytest.fixture(scope='module')
def toy_models(tmp_path_factory):
    """Per task: the source model, and its weights as official and as smt_mm checkpoints."""
    root = tmp_path_factory.mktemp('official')
    models = {}
    for task, config, toolbox in (('det', DET_TOY, 'mmdet'), ('seg', SEG_TOY, 'mmseg')):
        model = randomized_model(osp.join(REPO_ROOT, config), seed=1)
        official, ours = str(root / f'{task}_official.pth'), str(root / f'{task}_smt_mm.pth')
        torch.save(official_checkpoint(model, 'tiny', toolbox), official)
        torch.save({'meta': {}, 'state_dict': model.state_dict()}, ours)
        models[task] = (osp.join(REPO_ROOT, config), model, official, ours)
    return models


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_official_toy_model_loads_strictly_with_identical_outputs(toy_models, task):
    _, source, official, _ = toy_models[task]
    model = blank_copy(source)
    checkpoint = load_checkpoint(model, official, map_location='cpu', strict=True)
    assert_same_weights(model, source)
    assert 'classes' in checkpoint['meta']['dataset_meta']
    inputs = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        for expected, out in zip(
            source.extract_feat(inputs), model.extract_feat(inputs), strict=True
        ):
            torch.testing.assert_close(out, expected, rtol=0, atol=0)


@pytest.mark.parametrize(
    'config,arch,toolbox',
    [
        ('configs/detection/cascade_mask_rcnn_smt_s_3x.py', 'small', 'mmdet'),
        ('configs/segmentation/upernet_smt_b_512x512_160k_ade20k.py', 'base', 'mmseg'),
    ],
)
def test_official_full_size_models_convert_to_the_shipped_configs(repo_root, config, arch, toolbox):
    config = osp.join(repo_root, config)
    source = build_model(config, cfg_options=NO_PRETRAINED)  # random weights, BN stats all 0 / 1
    converted, note = convert_official_checkpoint(official_checkpoint(source, arch, toolbox))
    assert note is not None and 'of them attn.dw_conv' in note
    model = blank_copy(source)
    _load_checkpoint_to_model(model, converted, strict=True)
    assert_same_weights(model, source)


@pytest.fixture(scope='module')
def toy_data(tmp_path_factory):
    coco = str(tmp_path_factory.mktemp('toy_coco'))
    generate_coco(coco, num_train=1, num_val=2, height=128, width=128, seed=3)
    ade = str(tmp_path_factory.mktemp('toy_ade20k'))
    generate_ade20k(ade, num_train=1, num_val=2, height=128, width=128, seed=3)
    quick = {
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'model.test_cfg.rpn.max_per_img': 50,
    }
    det = toy_data_options(coco, 'annotations/instances_val2017.json') | quick
    seg = toy_data_options(ade) | {k: v for k, v in quick.items() if 'model' not in k}
    return {'det': det, 'seg': seg}


def run_test_tool(load_tool, config, checkpoint, work_dir, options):
    out = osp.join(work_dir, 'preds.pkl' if 'detection' in config else 'preds')
    argv = [config, checkpoint, '--work-dir', work_dir, '--out', out, '--cfg-options']
    load_tool('tools/test.py').main(argv + [f'{k}={v}' for k, v in options.items()])
    (log,) = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log) as f:
        return out, f.read()


def read_predictions(out):
    if osp.isfile(out):
        with open(out, 'rb') as f:
            return [
                {k: v.numpy() if torch.is_tensor(v) else v for k, v in p['pred_instances'].items()}
                for p in pickle.load(f)
            ]
    return {
        osp.basename(path): open(path, 'rb').read() for path in sorted(glob.glob(out + '/*.png'))
    }


@pytest.mark.slow
@pytest.mark.parametrize('task', ['det', 'seg'])
def test_tools_test_evaluates_an_official_checkpoint(
    toy_models, toy_data, load_tool, tmp_path, task
):
    """`tools/test.py CONFIG official.pth` gives the predictions of the smt_mm checkpoint."""
    config, _, official, ours = toy_models[task]
    runs = {}
    for name, checkpoint in (('official', official), ('smt_mm', ours)):
        work_dir = str(tmp_path / name)
        runs[name] = run_test_tool(load_tool, config, checkpoint, work_dir, toy_data[task])
    (official_out, official_log), (ours_out, _) = runs['official'], runs['smt_mm']
    kind = {'det': 'detector', 'seg': 'segmentor'}[task]
    assert f'converted an official SMT {kind} checkpoint' in official_log
    assert 'do not match exactly' not in official_log
    official_preds, our_preds = read_predictions(official_out), read_predictions(ours_out)
    assert len(official_preds) == 2
    np.testing.assert_equal(official_preds, our_preds)
    if task == 'det':
        assert sum(len(p['bboxes']) for p in our_preds) > 0
    else:
        assert len(set(our_preds.values())) == 2


def test_backbone_of_an_official_detector_through_init_cfg(toy_models):
    """``init_cfg=dict(type='Pretrained', checkpoint=official_detector, prefix='backbone.')``."""
    _, source, official, _ = toy_models['det']
    init_cfg = dict(type='Pretrained', checkpoint=official, prefix='backbone.')
    backbone = SMT('tiny', init_cfg=init_cfg)
    backbone.init_weights()
    assert_same_weights(backbone, source.backbone)
