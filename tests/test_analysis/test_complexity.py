"""Parameter and FLOP counts of the shipped configs against the official models and the paper."""

import runpy
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO_ROOT
from mmengine.analysis import parameter_count
from torch import nn

from smt_mm.analysis.complexity import (
    FLOPS_TOLERANCE,
    MASK_ROIS,
    PARAMS_TOLERANCE,
    complexity_markdown,
    config_complexity,
    count_flops,
    counting_config,
    model_complexity,
    relative_difference,
)
from smt_mm.analysis.paper import load_model_index, parse_input_size
from smt_mm.apis import build_model

ROOT = Path(REPO_ROOT)

# Parameters of the official classification models (``models/smt.py`` of
# github.com/AFeng-x/SMT, 1000-class head included), counted by building them.
OFFICIAL_PARAMS = {
    'smt_t_in1k_224': 11_506_536,
    'smt_s_in1k_224': 22_550_952,
    'smt_b_in1k_224': 32_037_352,
    'smt_l_in1k_224': 80_620_264,
}


@pytest.fixture(scope='module')
def models():
    return load_model_index(ROOT / 'model-index.yml')


class _Attention(nn.Module):
    def __init__(self, fused: bool) -> None:
        super().__init__()
        self.fused = fused

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return F.scaled_dot_product_attention(q, k, v)
        return torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, -1) @ v


def test_sdpa_handle_counts_like_the_explicit_matmuls():
    q, k, v = torch.rand(2, 3, 10, 8), torch.rand(2, 3, 12, 8), torch.rand(2, 3, 12, 5)
    fused = count_flops(_Attention(True), (q, k, v))
    explicit = count_flops(_Attention(False), (q, k, v))
    assert fused == {'scaled_dot_product_attention': 2 * 3 * 10 * 12 * (8 + 5)}
    assert sum(explicit.values()) == sum(fused.values())


def test_metafile_sizes_are_width_first_and_ours_height_first(models):
    assert parse_input_size('1280x800') == (800, 1280)
    assert parse_input_size(224) == (224, 224) and parse_input_size(None) is None
    assert models['mask_rcnn_smt_b_1x'].input_size == (800, 1280)


@pytest.mark.parametrize('name', sorted(OFFICIAL_PARAMS))
def test_classification_params_match_official_and_flops_match_paper(name, models):
    paper = models[name]
    row = config_complexity(ROOT / paper.config, paper)
    assert row.ours.params == OFFICIAL_PARAMS[name]
    assert row.ours.input_size == (224, 224)
    params_gap = relative_difference(row.ours.params, paper.params)
    if name == 'smt_s_in1k_224':
        # The published 21M is below what the official SMT-S code builds (22.55M).
        assert params_gap > PARAMS_TOLERANCE
    else:
        assert abs(params_gap) <= PARAMS_TOLERANCE
    # The paper counts modules only (ptflops): our count without the attention products
    # agrees with it, the one with them is further away.
    without = relative_difference(row.ours.flops_without_attention, paper.flops)
    with_attention = relative_difference(row.ours.flops, paper.flops)
    assert abs(without) <= FLOPS_TOLERANCE
    assert with_attention > without + 0.02
    table = complexity_markdown([row])
    assert f'| {name} | 224x224 | {OFFICIAL_PARAMS[name] / 1e6:.3f}M |' in table


@pytest.mark.parametrize(
    'name',
    [
        'mask_rcnn_smt_b_1x',
        'mask_rcnn_swin_t_1x',
        'upernet_smt_b_512x512_160k_ade20k',
        'upernet_swin_s_512x512_160k_ade20k',
    ],
)
def test_dense_model_params_match_paper(name, models):
    paper = models[name]
    params = parameter_count(build_model(counting_config(ROOT / paper.config)))['']
    assert abs(relative_difference(params, paper.params)) <= PARAMS_TOLERANCE


def test_smt_s_dense_params_exceed_paper_like_the_classifier(models):
    # The paper's SMT-S figures are about 2M below what the official SMT-S code builds, in every
    # table (ImageNet 21M vs 22.55M; Mask R-CNN 40M vs 42.2M; UPerNet 50M vs 52.3M).
    paper = models['mask_rcnn_smt_s_1x']
    params = parameter_count(build_model(counting_config(ROOT / paper.config)))['']
    assert 1.5e6 < params - paper.params < 2.5e6


class _Pointwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape == (1, 3, 64, 96)
        return self.conv(x)


def test_input_size_is_height_first():
    counted = model_complexity(_Pointwise(), (64, 96))
    assert counted.input_size == (64, 96)
    assert counted.flops == 64 * 96 * 3 * 2 and counted.params == 8


def test_backbone_only_attention_share_grows_with_resolution():
    from mmengine.registry import MODELS

    backbone = MODELS.build(dict(type='SMT', arch='tiny'))
    small = model_complexity(backbone, (64, 64))
    large = model_complexity(backbone, (128, 128))
    # The convolutions and linear layers grow with the pixels (x4), global attention with
    # their square (x16 in stage 3 and 4).
    assert large.flops_without_attention == pytest.approx(4 * small.flops_without_attention, 0.02)
    assert large.attention_flops == 16 * small.attention_flops


def test_get_flops_cli_on_one_config(monkeypatch, capsys):
    argv = ['get_flops.py', 'smt_t_in1k_224', '--shape', '64x96']
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(str(ROOT / 'tools/analysis/get_flops.py'), run_name='__main__')
    assert '| smt_t_in1k_224 | 64x96 | 11.507M | 11.5M | +0.1% |' in capsys.readouterr().out


@pytest.mark.slow
def test_mask_heads_are_counted_on_100_rois():
    # Cascade Mask R-CNN with 200 vs 100 proposals: only the three 4conv1fc box heads may see
    # the 100 extra RoIs; the mask heads are counted on 100 either way (MASK_ROIS)
    config = str(Path(REPO_ROOT, 'configs', 'detection', 'cascade_mask_rcnn_smt_s_3x.py'))
    flops = {}
    for proposals in (2 * MASK_ROIS, MASK_ROIS):
        options = {'model.backbone.arch': 'tiny', 'model.test_cfg.rpn.max_per_img': proposals}
        flops[proposals] = model_complexity(
            build_model(counting_config(config, options)), (128, 160)
        ).flops
    convs = 4 * 256 * 256 * 9 * 7 * 7  # per RoI: four 3x3 convs on 7x7, then fc, cls, reg
    box_head = convs + 256 * 7 * 7 * 1024 + 1024 * 81 + 1024 * 80 * 4
    extra = flops[2 * MASK_ROIS] - flops[MASK_ROIS]
    assert extra == pytest.approx(3 * MASK_ROIS * box_head, rel=1e-3)
