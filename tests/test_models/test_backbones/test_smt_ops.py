"""Tests of the fused operations behind SMT's default path (``smt_mm.models.backbones.smt_ops``).

Their agreement with the plain path inside the model is tested in ``test_smt.py``.
"""

import pytest
import torch
import torch.nn as nn

from smt_mm.models.backbones.smt_ops import DWConvGeluLinear, GeluLinear, LargeDepthwise, activate


def test_memory_lean_functions_pass_gradcheck():
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.double, requires_grad=True)

    x = rand(1, 3, 4, 4)
    assert torch.autograd.gradcheck(GeluLinear.apply, (x, rand(3, 4), rand(3)))
    assert torch.autograd.gradcheck(GeluLinear.apply, (x, rand(3, 4), None))
    x_nchw = x.permute(0, 3, 1, 2)  # channels-last strided, as in the FFN
    args = (x_nchw, rand(4, 1, 3, 3), rand(4), rand(3, 4), rand(3))
    assert torch.autograd.gradcheck(DWConvGeluLinear.apply, args)
    # a batch of two, channels-last strided, a 7 x 7 kernel on a map smaller than the kernel
    x_cl = rand(2, 3, 5, 4).permute(0, 3, 1, 2)
    assert torch.autograd.gradcheck(LargeDepthwise.apply, (x_cl, rand(4, 1, 7, 7), rand(4)))
    assert torch.autograd.gradcheck(LargeDepthwise.apply, (x_cl, rand(4, 1, 7, 7), None))


@pytest.mark.parametrize('approximate', ['none', 'tanh'])
def test_activate_overwrites_temporaries_only_without_autograd(approximate):
    act = nn.GELU(approximate=approximate)
    x = torch.randn(2, 5, 5, 8)
    expected = act(x)
    with torch.no_grad():
        y = x.clone()
        out = activate(act, y)
    assert out.data_ptr() == y.data_ptr()  # in place: no new map
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    leaf = x.clone().requires_grad_()
    out = activate(act, leaf)  # recorded by autograd: out of place, differentiable
    assert out.data_ptr() != leaf.data_ptr()
    out.sum().backward()
    assert torch.equal(leaf, x) and leaf.grad is not None
    relu = nn.ReLU()
    with torch.no_grad():  # other activations run as configured
        y = -x.abs()
        assert torch.equal(activate(relu, y), torch.zeros_like(x)) and torch.equal(y, -x.abs())
