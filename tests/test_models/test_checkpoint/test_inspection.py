"""``tools/analysis/check_checkpoint.py``: a verdict for every kind of file, never a traceback."""

import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from smt_reference import RefSMT, to_official_layout

from smt_mm.apis import build_model
from smt_mm.models.backbones import SMT
from smt_mm.models.checkpoint import convert_official_smt, inspect_checkpoint

SEG_TOY = osp.join(REPO_ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py')
RESNET_KEYS = {'backbone.conv1.weight': torch.zeros(2, 3, 7, 7), 'backbone.layer1.0.bn1.weight': 1}


def smt_backbone(prefix='backbone.', **kwargs):
    return {prefix + k: v for k, v in SMT('tiny', **kwargs).state_dict().items()}


def official_classification():
    return {'model': RefSMT('tiny', layerscale=True, num_classes=7).state_dict(), 'epoch': 299}


def mmdet_heads():
    return {
        'rpn_head.rpn_conv.weight': torch.zeros(1),
        'roi_head.bbox_head.fc_cls.weight': torch.zeros(5, 8),
    }


def mmcv_meta(toolbox):
    return {f'{toolbox}_version': '2.28.2' if toolbox == 'mmdet' else '0.30.0', 'epoch': 36}


#: name -> (checkpoint, expected kind, expected phrases of the report)
FILES = {
    'official-classification': (
        official_classification,
        'official-classification',
        [
            'ImageNet classification',
            'arch: tiny',
            'layer scale: yes',
            'heads: head, 7 classes (head.weight)',
        ],
    ),
    'official-classification-ema': (
        lambda: dict(official_classification(), model_ema=official_classification()['model']),
        'official-classification',
        ["EMA: yes ('model_ema')"],
    ),
    'official-detection': (
        lambda: {
            'meta': mmcv_meta('mmdet') | {'CLASSES': ('a', 'b', 'c', 'd')},
            'state_dict': to_official_layout(smt_backbone(), 'tiny') | mmdet_heads(),
            'optimizer': {'state': {}, 'param_groups': []},
        },
        'official-detection',
        [
            'official SMT detection checkpoint',
            'conversion: converted an official SMT detector checkpoint',
            'attn.dw_conv (official dense naming)',
            'arch: tiny',
            'layer scale: no',
            'roi_head, rpn_head, 4 classes',
            'optimizer state: yes (saved at epoch 36)',
        ],
    ),
    'official-segmentation': (
        lambda: {
            'meta': mmcv_meta('mmseg'),
            'state_dict': to_official_layout(smt_backbone(), 'tiny')
            | {'decode_head.conv_seg.weight': torch.zeros(150, 8, 1, 1)},
        },
        'official-segmentation',
        ['official SMT segmentation checkpoint', '150 classes', 'optimizer state: no'],
    ),
    'smt_mm-mmdet': (
        lambda: {
            'meta': {'iter': 400},
            'state_dict': smt_backbone() | mmdet_heads(),
            'optimizer': {},
        },
        'smt_mm-mmdet',
        ['smt_mm mmdet checkpoint', 'arch: tiny', 'optimizer state: yes (saved at iter 400)'],
    ),
    'smt_mm-mmpretrain-ema': (
        lambda: {
            'state_dict': smt_backbone(use_layerscale=True)
            | {'head.fc.weight': torch.zeros(3, 512)},
            'ema_state_dict': {},
        },
        'smt_mm-mmpretrain',
        ['layer scale: yes', "EMA: yes ('ema_state_dict')", '3 classes'],
    ),
    'smt_mm-backbone': (
        lambda: {'state_dict': convert_official_smt(official_classification())},
        'smt_mm-backbone',
        ['smt_mm SMT backbone weights', 'heads: none (backbone only)'],
    ),
    'other-mmdet': (
        lambda: {'meta': {'dataset_meta': {}}, 'state_dict': RESNET_KEYS | mmdet_heads()},
        'other-mmdet',
        ['checkpoint of another backbone, not SMT (e.g. backbone.conv1.weight)'],
    ),
    'other-mmseg': (
        lambda: RESNET_KEYS | {'decode_head.conv_seg.weight': torch.zeros(2)},
        'other-mmseg',
        ['mmseg checkpoint of another backbone'],
    ),
    'other-mmpretrain': (
        lambda: {'state_dict': RESNET_KEYS | {'head.fc.weight': torch.zeros(2)}},
        'other-mmpretrain',
        ['mmpretrain checkpoint of another backbone'],
    ),
    'plain-state-dict': (
        lambda: {'fc.weight': torch.zeros(2)},
        'other-state-dict',
        ["not an SMT checkpoint: 1 entries such as ['fc.weight']"],
    ),
    'tensor': (lambda: torch.zeros(3), 'not-a-checkpoint', ['holds a Tensor']),
}


@pytest.fixture(name='check')
def fixture_check(load_tool, capsys):
    tool = load_tool('tools/analysis/check_checkpoint.py')

    def check(*argv):
        status = tool.main([str(a) for a in argv])
        return status, capsys.readouterr().out

    return check


@pytest.mark.parametrize('name', list(FILES))
def test_verdicts_on_checkpoints(tmp_path, check, name):
    make, kind, phrases = FILES[name]
    path = tmp_path / f'{name}.pth'
    torch.save(make(), path)
    assert inspect_checkpoint(str(path)).kind == kind
    status, out = check(path)
    assert status == (1 if kind == 'not-a-checkpoint' else 0)
    for phrase in phrases:
        assert phrase in out


@pytest.mark.parametrize(
    'content,kind',
    [
        (b'', 'empty'),
        (b'<html><head><title>Sign in</title></head></html>', 'html'),
        (b'version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1\n', 'lfs-pointer'),
        (bytes(range(3, 250)), 'not-a-checkpoint'),
        ('truncated', 'damaged'),
        ('unsafe', 'unsafe'),
        ('missing', 'missing'),
    ],
)
def test_verdicts_on_files_that_are_no_usable_checkpoint(tmp_path, check, content, kind):
    path = tmp_path / 'file.pth'
    if content == 'truncated':
        torch.save({'state_dict': {'w': torch.arange(100.0)}}, path)
        path.write_bytes(path.read_bytes()[:400])
    elif content == 'unsafe':
        torch.save({'extra': print}, path)
    elif content != 'missing':
        path.write_bytes(content)
    assert inspect_checkpoint(str(path)).kind == kind
    status, out = check(path)
    assert status == 1
    assert out.startswith(f'{path}: ') and 'Traceback' not in out


def test_config_comparison_lists_exactly_the_bad_keys(tmp_path, check):
    torch.manual_seed(0)
    state = build_model(SEG_TOY).state_dict()
    official = to_official_layout(state, 'tiny')
    del official['backbone.block3.1.attn.dw_conv.bias']
    official['backbone.block1.0.attn.extra.weight'] = torch.zeros(1)
    official['decode_head.conv_seg.weight'] = torch.zeros(150, 64, 1, 1)
    bad = tmp_path / 'bad.pth'
    torch.save({'meta': mmcv_meta('mmseg'), 'state_dict': official}, bad)
    status, out = check(bad, SEG_TOY)
    assert status == 1
    report = out.split('against ')[1]
    assert 'missing: 1\n    backbone.stages.2.1.attn.local_conv.bias\n' in report
    assert 'unexpected: 1\n    backbone.stages.0.0.attn.extra.weight\n' in report
    assert (
        'shape mismatch: 1\n    decode_head.conv_seg.weight: checkpoint (150, 64, 1, 1), '
        'model (5, 64, 1, 1)\n'
    ) in report
    assert 'does NOT load strictly' in report
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': to_official_layout(state, 'tiny')}, good)
    status, out = check(good, SEG_TOY)
    assert status == 0 and 'loads strictly' in out and 'missing: 0' in out


def test_backbone_file_is_compared_with_the_config_backbone(tmp_path, check):
    path = tmp_path / 'smt_tiny.pth'
    torch.save(official_classification(), path)
    status, out = check(path, SEG_TOY, '--cfg-options', 'model.backbone.use_layerscale=True')
    assert status == 0 and 'model.backbone (init_cfg Pretrained)' in out
    status, out = check(path, SEG_TOY)  # the config's SMT-T has no layer scale
    assert status == 1 and 'unexpected: 26' in out and 'stages.0.0.gamma1' in out
