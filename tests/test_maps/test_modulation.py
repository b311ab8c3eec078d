"""Modulation, per-head and attention maps recorded by hooks on SMT models of every toolbox."""

import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO_ROOT
from mmengine.config import Config

from smt_mm.apis import build_model
from smt_mm.maps.modulation import ModulationRecorder, attention_row, default_blocks
from smt_mm.models.backbones import SMT
from smt_mm.visualization.images import prepare_image

#: A small SMT for the quick tests: SAM stages 0-1, SAM + MSA in stage 2, MSA in stage 3.
SMALL_ARCH = dict(
    embed_dims=(16, 32, 64, 64), depths=(1, 2, 2, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3,
    sa_num_heads=(2, 4),
)  # fmt: skip


def _smt(**kwargs):
    torch.manual_seed(0)
    model = SMT(SMALL_ARCH, **kwargs)
    model.init_weights()
    return model


def _hooks(module):
    return sum(len(m._forward_hooks) for m in module.modules())


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('training', [False, True])
def test_recording_leaves_outputs_and_state_bit_identical(fused, training):
    model = _smt(fused=fused).train(training)
    x = torch.rand(2, 3, 67, 93)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    reference = model(x)
    after_reference = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    with ModulationRecorder(model, attention_per_head=True) as recorder:
        outputs = model(x)
    assert all(torch.equal(a, b) for a, b in zip(reference, outputs, strict=True))
    # BatchNorm statistics move exactly as without the recorder (training mode)
    assert all(torch.equal(v, after_reference[k]) for k, v in model.state_dict().items())
    assert _hooks(model) == 0 and model.fused is fused and recorder.maps


def test_maps_are_the_same_on_the_fused_and_the_plain_path():
    model = _smt().eval()
    x = torch.rand(1, 3, 67, 93)
    maps = {}
    for fused in (True, False):
        model.fused = fused
        with ModulationRecorder(model, modulators=['0.0', '1.1', '2.0'], heads='1.0') as recorder:
            model(x)
        maps[fused] = recorder.maps
    assert list(maps[True]) == list(maps[False])
    for label, value in maps[True].items():
        torch.testing.assert_close(value, maps[False][label], rtol=1e-4, atol=1e-5)


def test_default_blocks_and_labels_name_stage_and_block():
    model = _smt()
    assert default_blocks(model) == dict(
        modulators=['0.0', '1.1', '2.0'], heads='0.0', attention='2.1'
    )
    assert default_blocks(SMT('tiny')) == dict(
        modulators=['0.1', '1.1', '2.6'], heads='0.1', attention='2.1'
    )
    with ModulationRecorder(model, attention='3.-1', attention_per_head=True) as recorder:
        model(torch.rand(1, 3, 64, 64))
    assert list(recorder.maps) == [
        'block 0.0 modulator', *[f'block 0.0 head {k} ({3 + 2 * k}x{3 + 2 * k})' for k in range(4)],
        'block 1.1 modulator', 'block 2.0 modulator', 'block 3.0 attention head 0',
        'block 3.0 attention head 1', 'block 3.0 attention head 2', 'block 3.0 attention head 3',
    ]  # fmt: skip


def test_attention_row_reproduces_the_attention_output_of_its_query():
    model = _smt().eval()
    attn = model.stages[2][1].attn
    x = torch.randn(2, 5, 7, 64)
    query = (0.5, 0.9)  # row 2, column 6
    row = attention_row(attn, x, query)  # (B, heads, H, W)
    assert row.shape == (2, 2, 5, 7)
    torch.testing.assert_close(row.sum((2, 3)), torch.ones(2, 2))
    heads, d = 2, 32
    q = attn.q(x).view(2, 35, heads, d).transpose(1, 2)
    k, v = (t.transpose(1, 2) for t in attn.kv(x).view(2, 35, 2, heads, d).unbind(2))
    expected = F.scaled_dot_product_attention(q, k, v)[:, :, 2 * 7 + 6]
    torch.testing.assert_close(torch.einsum('bhn,bhnd->bhd', row.flatten(2), v), expected)


@pytest.mark.parametrize(
    'kwargs,message',
    [
        (dict(modulators=['2.1']), r"'2.1' is not a SAM block .* 0.0 1.0 1.1 2.0$"),
        (dict(heads='4.0'), "'4.0' is not a SAM block"),
        (dict(heads='x'), "'x' is not a SAM block of this SMT; blocks are named STAGE.BLOCK"),
        (dict(attention='0.0'), r"'0.0' is not a MSA block .*: 2.1 3.0$"),
        (dict(query=(0.5, 1.5)), r'query must be fractions \(y, x\) of the map in \[0, 1\]'),
    ],
)  # fmt: skip
def test_bad_blocks_and_queries_name_the_valid_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModulationRecorder(_smt(), **kwargs)


def test_models_without_smt_are_refused():
    with pytest.raises(TypeError, match='Linear has no SMT backbone'):
        ModulationRecorder(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    'config,size,stage0',
    [
        ('classification/smt_t_toy.py', (33, 47), (8, 12)),
        ('detection/mask_rcnn_smt_t_toy.py', (113, 157), (32, 40)),  # padded to 128x160
        ('segmentation/upernet_smt_t_toy.py', (113, 157), (28, 39)),
    ],
)
def test_maps_of_classifier_detector_and_segmentor_at_odd_sizes(config, size, stage0):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    model = build_model(cfg)
    image = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
    inputs = model.data_preprocessor({'inputs': [image]}, False)['inputs']
    with ModulationRecorder(model, attention='3.0') as recorder, torch.no_grad():
        model.backbone(inputs)
    h, w = stage0
    shapes = {label: tuple(value.shape) for label, value in recorder.maps.items()}
    assert shapes['block 0.1 modulator'] == shapes['block 0.1 head 3 (9x9)'] == (1, h, w)
    assert shapes['block 1.1 modulator'] == (1, (h + 1) // 2, (w + 1) // 2)
    assert shapes['block 2.6 modulator'] == (1, (h + 3) // 4, (w + 3) // 4)
    assert shapes['block 3.0 attention'] == (1, (h + 7) // 8, (w + 7) // 8)
    assert all(torch.isfinite(value).all() for value in recorder.maps.values())


def _squares(generator, batch=16, size=32):
    """Noise images with one bright square of side 4 (label 0) or 12 (label 1)."""
    labels = torch.randint(0, 2, (batch,), generator=generator)
    images = 0.1 * torch.randn(batch, 3, size, size, generator=generator)
    for image, label in zip(images, labels.tolist(), strict=True):
        side = 12 if label else 4
        y, x = torch.randint(0, size - side, (2,), generator=generator).tolist()
        image[:, y : y + side, x : x + side] += 1.0
    return images, labels


def test_per_head_maps_differ_on_a_trained_model():
    generator = torch.Generator().manual_seed(0)
    backbone = _smt(out_indices=(3,), out_type='avg_featmap')
    head = torch.nn.Linear(64, 2)
    optimizer = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=2e-3)
    losses = []
    for _ in range(30):  # learn which square is the big one
        images, labels = _squares(generator)
        loss = F.cross_entropy(head(backbone(images)[0]), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < 0.7 * sum(losses[:5])  # it did learn
    backbone.eval()
    with ModulationRecorder(backbone, modulators=None, heads='1.1', attention=None) as recorder:
        backbone(_squares(generator, batch=4)[0])
    heads = [m / m.mean((1, 2), keepdim=True) for m in recorder.maps.values()]
    assert len(heads) == 4 and all(h.shape == (4, 4, 4) for h in heads)
    for i in range(4):
        for j in range(i):
            assert (heads[i] - heads[j]).abs().mean() > 0.02, (i, j)


@pytest.mark.slow
def test_per_head_maps_differ_on_the_toy_trained_classifier(
    toy_classification_run, load_tool, tmp_path
):
    run = toy_classification_run
    images = [osp.join(run.data_root, 'val', name, '000000.png') for name in ('circle', 'star')]
    tool = load_tool('tools/analysis/visualize_modulation.py')
    out_file = tool.main([run.config, run.checkpoint, *images, '--out-dir', str(tmp_path)])
    assert osp.isfile(out_file)
    model = build_model(run.config, run.checkpoint)
    inputs = torch.cat([prepare_image(model, path)[1] for path in images])
    with ModulationRecorder(model, modulators=None, attention=None) as recorder, torch.no_grad():
        model.backbone(inputs)
    heads = [m / m.mean((1, 2), keepdim=True) for m in recorder.maps.values()]
    assert len(heads) == 4
    for i in range(4):
        for j in range(i):
            assert (heads[i] - heads[j]).abs().mean() > 0.02, (i, j)
