"""Tests of the official-checkpoint converter and its command-line tool."""

import pytest
import torch
from conftest import load_tool
from smt_reference import RefSMT, randomize_, to_official_layout

from smt_mm.models.backbones import SMT
from smt_mm.models.checkpoint import (
    convert_official_checkpoint,
    convert_official_smt,
    official_model_kind,
    safe_torch_load,
)


@pytest.fixture(scope='module')
def official_tiny():
    """An official-layout SMT-T state dict with layer scale (as SMT-L checkpoints have)."""
    torch.manual_seed(0)
    return RefSMT('tiny', layerscale=True).state_dict()


def test_key_mapping_examples():
    t = torch.zeros(1)
    official = {
        'patch_embed1.conv.0.weight': t,
        'patch_embed1.conv.1.running_var': t,
        'patch_embed1.conv.3.bias': t,
        'patch_embed1.norm.weight': t,
        'patch_embed3.proj.weight': t,
        'block1.0.attn.local_conv_4.weight': t,
        'block3.11.attn.kv.bias': t,
        'block3.1.attn.dw_conv.weight': t,
        'block2.3.mlp.dwconv.dwconv.weight': t,
        'block2.3.mlp.fc2.weight': t,
        'block4.1.gamma_2': t,
        'block3.0.norm1.weight': t,
        'norm4.bias': t,
        'head.weight': t,
    }
    assert list(convert_official_smt(official)) == [
        'patch_embeds.0.conv1.weight',
        'patch_embeds.0.bn.running_var',
        'patch_embeds.0.conv2.bias',
        'patch_embeds.0.norm.weight',
        'patch_embeds.2.proj.weight',
        'stages.0.0.attn.local_convs.3.weight',
        'stages.2.11.attn.kv.bias',
        'stages.2.1.attn.local_conv.weight',
        'stages.1.3.ffn.dwconv.weight',
        'stages.1.3.ffn.fc2.weight',
        'stages.3.1.gamma2',
        'stages.2.0.norm1.weight',
        'norms.3.bias',
    ]


@pytest.mark.parametrize('wrapper', [None, 'model', 'state_dict', 'module'])
def test_round_trip_loads_strictly_with_layer_scale(official_tiny, wrapper):
    if wrapper == 'module':
        checkpoint = {'module.' + k: v for k, v in official_tiny.items()}
    elif wrapper:
        checkpoint = {wrapper: official_tiny, 'epoch': 300}
    else:
        checkpoint = official_tiny
    converted = convert_official_smt(checkpoint)
    model = SMT('tiny', use_layerscale=True)
    model.load_state_dict(converted, strict=True)
    assert not any(k.startswith('head') for k in converted)
    torch.testing.assert_close(model.stages[3][0].gamma1, official_tiny['block4.0.gamma_1'])
    # Tensors are shared, not copied.
    assert converted['norms.0.weight'] is official_tiny['norm1.weight']


@pytest.mark.parametrize('keep_head', [False, True])
def test_converter_is_idempotent(official_tiny, keep_head):
    once = convert_official_smt(official_tiny, keep_head=keep_head)
    twice = convert_official_smt(once, keep_head=keep_head)
    assert list(once) == list(twice)
    assert all(once[k] is twice[k] for k in once)


def test_keep_head_gives_mmpretrain_classifier_layout(official_tiny):
    converted = convert_official_smt(official_tiny, keep_head=True)
    head_keys = [k for k in converted if not k.startswith('backbone.')]
    assert head_keys == ['head.fc.weight', 'head.fc.bias']
    assert converted['head.fc.weight'] is official_tiny['head.weight']
    backbone_only = convert_official_smt(converted)
    assert list(backbone_only) == list(convert_official_smt(official_tiny))


def test_unknown_keys_pass_through_for_strict_loading_to_report(official_tiny):
    state = dict(official_tiny, **{'block1.0.attn.extra.weight': torch.zeros(1)})
    converted = convert_official_smt(state)
    assert 'block1.0.attn.extra.weight' not in converted
    assert 'stages.0.0.attn.extra.weight' in converted
    with pytest.raises(RuntimeError, match='stages.0.0.attn.extra.weight'):
        SMT('tiny', use_layerscale=True).load_state_dict(converted)


def test_not_an_smt_state_dict_raises():
    with pytest.raises(ValueError, match=r'Not an SMT state dict.*conv1\.weight'):
        convert_official_smt({'conv1.weight': torch.zeros(1)})


@pytest.mark.parametrize('keep_head', [False, True])
def test_cli_writes_a_converted_file(tmp_path, official_tiny, keep_head):
    src, dst = tmp_path / 'smt_tiny.pth', tmp_path / 'out' / 'smt_tiny_mm.pth'
    torch.save({'model': official_tiny}, src)
    argv = [str(src), str(dst)] + (['--keep-head'] if keep_head else [])
    load_tool('tools/model_converters/smt_to_mm.py').main(argv)
    written = safe_torch_load(str(dst))['state_dict']
    expected = convert_official_smt(official_tiny, keep_head=keep_head)
    assert list(written) == list(expected)
    for key, value in expected.items():
        torch.testing.assert_close(written[key], value)
    model = SMT('tiny', use_layerscale=True, init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    if keep_head:
        model.init_cfg['prefix'] = 'backbone.'
    model.init_weights()
    torch.testing.assert_close(model.norms[3].weight, official_tiny['norm4.weight'])


def test_dense_reference_equals_smt_after_conversion():
    """The official dense layout (attn.dw_conv, no head) computes what SMT computes."""
    ref = randomize_(RefSMT('tiny', dense=True), torch.Generator().manual_seed(3)).eval()
    assert 'head.weight' not in ref.state_dict()
    assert 'block3.1.attn.dw_conv.weight' in ref.state_dict()
    model = SMT('tiny').eval()
    model.load_state_dict(convert_official_smt(ref.state_dict()), strict=True)
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        for expected, out in zip(ref(x), model(x), strict=True):
            torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_inverse_layout_round_trips():
    ours = {'backbone.' + k: v for k, v in SMT('tiny').state_dict().items()}
    ours['neck.conv.weight'] = torch.zeros(1)
    official = to_official_layout(ours, 'tiny')
    assert 'backbone.block3.1.attn.dw_conv.weight' in official
    assert 'backbone.patch_embed1.conv.0.weight' in official
    assert official['neck.conv.weight'] is ours['neck.conv.weight']
    converted, note = convert_official_checkpoint({'state_dict': official})
    assert list(converted['state_dict']) == list(ours)
    assert note is not None and '(10 of them attn.dw_conv -> attn.local_conv)' in note


def mmdet2_checkpoint(state_dict):
    """The layout mmcv 1.x's runner saves for mmdet 2.x models."""
    meta = dict(
        mmdet_version='2.28.2',
        CLASSES=('a', 'b'),
        PALETTE=[(1, 2, 3), (4, 5, 6)],
        epoch=36,
        iter=1000,
        config='model = dict(...)',
    )
    optimizer = dict(state={}, param_groups=[dict(lr=1e-4, weight_decay=0.05, params=[0, 1])])
    return dict(meta=meta, state_dict=state_dict, optimizer=optimizer)


def test_whole_official_detector_conversion_is_idempotent_and_keeps_the_rest():
    ours = {'backbone.' + k: v for k, v in SMT('tiny').state_dict().items()}
    ours['roi_head.bbox_head.fc_cls.weight'] = torch.zeros(3, 4)
    checkpoint = mmdet2_checkpoint(to_official_layout(ours, 'tiny'))
    assert official_model_kind(checkpoint) == 'detector'
    once, note = convert_official_checkpoint(checkpoint)
    assert note.startswith('converted an official SMT detector checkpoint')
    assert dict(once['state_dict']) == ours
    assert once['optimizer'] is checkpoint['optimizer']
    assert once['meta']['dataset_meta'] == {
        'classes': ('a', 'b'),
        'palette': [(1, 2, 3), (4, 5, 6)],
    }
    assert once['meta']['CLASSES'] == ('a', 'b')  # mmdet's init_detector still reads it
    twice, second_note = convert_official_checkpoint(once)
    assert second_note is None and twice['state_dict'] is once['state_dict']
    bare, _ = convert_official_checkpoint(checkpoint['state_dict'])
    assert list(bare['state_dict']) == list(ours)


def test_segmentor_and_other_models_are_told_apart():
    ours = {'backbone.' + k: v for k, v in SMT('tiny').state_dict().items()}
    official = to_official_layout(ours, 'tiny')
    assert official_model_kind(dict(official, **{'decode_head.conv_seg.weight': 1})) == 'segmentor'
    assert official_model_kind({'meta': {'mmseg_version': '0.30.0'}, 'state_dict': official}) == (
        'segmentor'
    )
    assert official_model_kind(official) == 'model'
    assert official_model_kind(ours) is None
    swin_like = {'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight': torch.zeros(1)}
    assert convert_official_checkpoint(swin_like) == (swin_like, None)


def test_cli_converts_a_whole_official_detector_and_prints_the_mapping(tmp_path, capsys):
    ours = {'backbone.' + k: v for k, v in SMT('tiny').state_dict().items()}
    ours['roi_head.bbox_head.fc_cls.weight'] = torch.zeros(3, 4)
    src, dst = tmp_path / 'mask_rcnn_official.pth', tmp_path / 'mask_rcnn_smt_mm.pth'
    torch.save(mmdet2_checkpoint(to_official_layout(ours, 'tiny')), src)
    tool = load_tool('tools/model_converters/smt_to_mm.py')
    tool.main([str(src), str(dst), '--list'])
    out = capsys.readouterr().out
    assert 'converted an official SMT detector checkpoint' in out
    assert (
        'backbone.block3.1.attn.dw_conv.weight -> backbone.stages.2.1.attn.local_conv.weight' in out
    )
    assert 'backbone.patch_embed1.conv.0.weight -> backbone.patch_embeds.0.conv1.weight' in out
    written = safe_torch_load(str(dst))
    assert set(written) == {'meta', 'state_dict'}
    assert list(written['state_dict']) == list(ours)
    assert written['meta']['dataset_meta']['classes'] == ('a', 'b')
    tool.main([str(dst), str(tmp_path / 'again.pth')])  # an already converted file: unchanged
    assert 'no key renamed' in capsys.readouterr().out


def test_another_backbones_detector_is_not_converted():
    # mmdet's Swin names its output norms norm0..norm3, the official SMT norm1..norm4: no conversion
    from mmdet.models.backbones import SwinTransformer

    swin = SwinTransformer(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1))
    state_dict = {f'backbone.{k}': v for k, v in swin.state_dict().items()}
    assert 'backbone.norm1.weight' in state_dict
    checkpoint = {'meta': {'mmdet_version': '3.3.0'}, 'state_dict': state_dict}
    assert official_model_kind(checkpoint) is None
    converted, _ = convert_official_checkpoint(checkpoint)
    assert list(converted['state_dict']) == list(state_dict)
