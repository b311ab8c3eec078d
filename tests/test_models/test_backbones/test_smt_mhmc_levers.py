"""The plain path's MHMC layout variants (``SMT(mhmc='conv-nchw' ...)``) and the ``mhmc`` switch.

Each variant must compute the reference SMT's function: outputs and every gradient within
1e-5 relative (``||a - b|| / ||b||``) of the reference in the official layout. The Triton
kernels (``mhmc='triton'``) are tested in ``test_mhmc_triton.py``.
"""

import re

import pytest
import torch
from smt_reference import RefSMT, randomize_
from torch import nn

from smt_mm.models.backbones import SMT
from smt_mm.models.backbones.smt import MHMC_MODES
from smt_mm.models.checkpoint import convert_official_smt

LEVERS = ('conv-nchw', 'conv-stack-last', 'conv-nchw-stack-last')
MINI = dict(embed_dims=(16, 32, 48, 64), depths=(1, 2, 1, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)


def relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope='module')
def reference():
    torch.manual_seed(3)
    return randomize_(RefSMT('tiny', layerscale=True), torch.Generator().manual_seed(3))


@pytest.mark.parametrize('mhmc', ('conv', *LEVERS))
def test_lever_matches_reference_outputs_and_gradients(reference, mhmc):
    model = SMT('tiny', use_layerscale=True, fused=False, mhmc=mhmc)
    model.load_state_dict(convert_official_smt(reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # eval: BN with running statistics
        for e, o in zip(reference.eval()(x), model.eval()(x), strict=True):
            assert relative_error(o, e) <= 1e-5
    reference.zero_grad(set_to_none=True)
    ref_outs, outs = reference.train()(x), model.train()(x)
    weights = [torch.randn(o.shape, generator=torch.Generator().manual_seed(1)) for o in outs]
    for e, o in zip(ref_outs, outs, strict=True):
        assert relative_error(o.detach(), e.detach()) <= 1e-5
    sum((o * w).sum() for o, w in zip(ref_outs, weights, strict=True)).backward()
    sum((o * w).sum() for o, w in zip(outs, weights, strict=True)).backward()
    ref_params = {n: p for n, p in reference.named_parameters() if not n.startswith('head')}
    params = dict(model.named_parameters())
    # The biases of SAM's convolutions before its train-mode BN have a gradient of 0 in theory
    # (BN removes a constant shift): theirs is rounding noise, measured against the largest.
    largest = max(p.grad.norm().item() for p in ref_params.values())
    for (name, p), key in zip(ref_params.items(), convert_official_smt(ref_params), strict=True):
        zero_in_theory = re.search(r'attn\.(local_conv_\d|proj0)\.bias$', name) is not None
        scale = largest if zero_in_theory else p.grad.norm().item()
        assert (params[key].grad - p.grad).norm().item() <= 1e-5 * scale, name


def _mhmc_layouts(model, x):
    """Per SAM block: whether each conv saw a dense NCHW head, and the interleaved map's layout."""
    seen = []
    hooks = [
        conv.register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous()))
        for m in model.modules()
        if isinstance(m, nn.ModuleList)
        for conv in m
        if isinstance(conv, nn.Conv2d)
    ]
    proj0_inputs = []
    hooks += [
        m.proj0.register_forward_pre_hook(lambda m, args: proj0_inputs.append(args[0]))
        for m in model.modules()
        if hasattr(m, 'proj0')
    ]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    channels_last = [s.is_contiguous(memory_format=torch.channels_last) for s in proj0_inputs]
    return seen, channels_last


@pytest.mark.parametrize('mhmc', ('conv', *LEVERS))
def test_levers_change_the_layouts_they_name(mhmc):
    model = SMT(MINI, fused=False, mhmc=mhmc).eval()
    dense_heads, channels_last = _mhmc_layouts(model, torch.rand(1, 3, 64, 64))
    assert dense_heads and all(dense_heads) == ('nchw' in mhmc)
    assert not any(dense_heads) == ('nchw' not in mhmc)
    assert channels_last and all(channels_last) == ('stack-last' in mhmc)
    assert not any(channels_last) == ('stack-last' not in mhmc)


def test_mhmc_switch_rejects_bad_values_and_plain_levers_on_the_fused_path(monkeypatch):
    with pytest.raises(ValueError, match=r"Unknown mhmc 'fast'; choose one of \['conv', "):
        SMT(MINI, mhmc='fast')
    with pytest.raises(ValueError, match="mhmc='conv-nchw' changes the plain path.*fused=False"):
        SMT(MINI, fused=True, mhmc='conv-nchw')
    model = SMT(MINI, fused=False, mhmc='conv-stack-last')
    assert "mhmc='conv-stack-last'" in repr(model)
    assert all(m.mhmc == 'conv-stack-last' for m in model.modules() if hasattr(m, 'proj0'))
    with pytest.raises(ValueError, match='changes the plain path'):
        model.fused = True
    assert model.fused is False
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # 'auto' is plain there
    assert SMT(MINI, mhmc='conv-nchw').fused is False
    assert set(MHMC_MODES) == {'conv', 'triton', *LEVERS}
