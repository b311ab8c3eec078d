"""Effective receptive fields: known answers on hand-built convolutions, SMT and mmdet's Swin."""

import numpy as np
import pytest
import torch
from torch import nn

from smt_mm.maps.receptive_field import (
    UNTRAINED,
    check_comparable,
    contribution_areas,
    effective_receptive_field,
    weights_source,
)
from smt_mm.models.backbones import SMT


class UnitConvs(nn.Module):
    """Stage k = k + 1 stacked 3 x 3 convolutions with unit weights (stride 1, no bias)."""

    def __init__(self, stages=2, channels=3):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels if k == 0 else 1, 1, 3, padding=1, bias=False) for k in range(stages)
        )
        for conv in self.convs:
            nn.init.ones_(conv.weight)

    def forward(self, x):
        outs = []
        for conv in self.convs:
            x = conv(x)
            outs.append(x)
        return tuple(outs)


def test_erf_of_unit_convolutions_is_known():
    # positive: the ReLU passes; the images' scales differ, their weights in the ERF do not
    batches = [torch.rand(2, 3, 11, 13) * scale + 0.1 for scale in (1, 100)]
    one, two = effective_receptive_field(UnitConvs(), batches)
    # one 3 x 3 conv: the 9 pixels of the window around the centre (5, 6) count the same; each
    # of the 4 images adds a map that sums to 1
    expected = np.zeros((11, 13))
    expected[4:7, 5:8] = 4 / 9
    np.testing.assert_allclose(one, expected)
    # two: the window's autocorrelation, a 5 x 5 tent outer([1, 2, 3, 2, 1]) (sum 81)
    tent = np.array([1, 2, 3, 2, 1.0])
    expected = np.zeros((11, 13))
    expected[3:8, 4:9] = 4 * np.outer(tent, tent) / 81
    np.testing.assert_allclose(two, expected)
    # 9 equal pixels: 20 % of the total needs ceil(1.8) = 2, 50 % 5, 90 % 9 pixels
    assert {k: v['pixels'] for k, v in contribution_areas(one, (0.2, 0.5, 0.9, 1.0)).items()} == {
        '20%': 2, '50%': 5, '90%': 9, '100%': 9,
    }  # fmt: skip
    # tent, sorted 9, 6 x4, 4 x4, 3 x4, 2 x8, 1 x4: 16.2 <= 9+6+6; 40.5 <= 9+24+4+4;
    # 72.9 <= 9+24+16+12+2*6: 3, 7, 19 pixels, all 25 for 100 %
    areas = contribution_areas(two, (0.2, 0.5, 0.9, 1.0))
    assert {k: v['pixels'] for k, v in areas.items()} == {'20%': 3, '50%': 7, '90%': 19, '100%': 25}
    assert areas['90%']['ratio'] == pytest.approx(19 / (11 * 13))


def test_erf_grows_with_depth_in_smt_and_swin():
    from mmdet.models.backbones import SwinTransformer

    torch.manual_seed(0)
    smt = SMT('tiny')
    smt.init_weights()
    swin = SwinTransformer(embed_dims=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8))
    images = [torch.randn(2, 3, 64, 64)]
    for model in (smt, swin):
        model.train()
        erfs = effective_receptive_field(model, images)
        assert model.training  # the mode is restored
        assert all(p.grad is None for p in model.parameters())
        assert len(erfs) == 4 and all(erf.shape == (64, 64) for erf in erfs)
        areas = [contribution_areas(erf)['50%']['pixels'] for erf in erfs]
        assert areas == sorted(areas) and areas[3] > 4 * areas[0], (type(model).__name__, areas)


def test_erf_needs_stage_maps_and_images():
    pooled = SMT('tiny', out_indices=(3,), out_type='avg_featmap')
    with pytest.raises(ValueError, match=r"returned \[\(1, 512\)\]; .*out_type='featmap'"):
        effective_receptive_field(pooled, [torch.rand(1, 3, 32, 32)])
    with pytest.raises(ValueError, match='no images'):
        effective_receptive_field(UnitConvs(), [])
    with pytest.raises(ValueError, match='the contribution map is zero'):
        contribution_areas(effective_receptive_field(UnitConvs(), [-torch.rand(1, 3, 8, 8)])[0])
    with pytest.raises(ValueError, match=r'one size, got \(8, 8\) and \(9, 9\)'):
        effective_receptive_field(UnitConvs(), [torch.rand(1, 3, 8, 8), torch.rand(1, 3, 9, 9)])


def test_contribution_areas_refuse_empty_maps_and_bad_shares():
    with pytest.raises(ValueError, match='the contribution map is zero'):
        contribution_areas(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r'shares must be in \(0, 1\], got 1.5'):
        contribution_areas(np.ones((3, 3)), (1.5,))


def test_weights_source_tells_trained_pretrained_and_untrained_apart():
    model = dict(type='MaskRCNN', backbone=dict(type='SMT', init_cfg=None))
    assert weights_source(model, 'work_dirs/x/iter_400.pth') == 'checkpoint iter_400.pth'
    assert weights_source(model, None) == UNTRAINED
    pretrained = dict(
        model, backbone=dict(init_cfg=[dict(type='Pretrained', checkpoint='a/b.pth')])
    )
    assert weights_source(pretrained, None) == 'init_cfg Pretrained b.pth'


def test_check_comparable_refuses_trained_against_untrained_unless_asked():
    trained, untrained = 'checkpoint smt.pth', UNTRAINED
    check_comparable({'smt': trained, 'swin': trained})
    check_comparable({'smt': untrained, 'swin': untrained})  # architectures at random init
    check_comparable({'smt': trained, 'swin': untrained}, allow_untrained=True)
    with pytest.raises(
        ValueError, match=r'swin would run untrained .* --compare CONFIG CHECKPOINT'
    ):
        check_comparable({'smt': trained, 'swin': untrained})
    with pytest.raises(ValueError, match=r'smt would .*after the config .*--allow-untrained'):
        check_comparable({'smt': untrained, 'swin': trained})
