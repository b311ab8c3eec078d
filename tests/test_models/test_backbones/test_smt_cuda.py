"""SMT on a CUDA GPU: the fused and plain paths in fp32 and under autocast, and torch.compile.

Marked ``cuda`` and skipped without a GPU (``pytest -m cuda`` selects them on a GPU machine).

Tolerances:
* fp32: TF32 is switched off (cuDNN enables it for convolutions by default), so both paths are
  true fp32 and differ only by summation order: <= 1e-4 absolute on unit-scale outputs.
* fp16 / bf16 autocast: the two paths round differently (the fused path sums the four SAM kernels
  and the FFN's residual inside one convolution), so they are compared by relative error
  ``||a - b|| / ||b||`` against the fp32 plain outputs. The unit round-off is 2^-11 (fp16) and
  2^-8 (bf16); errors of that order grow over the network's depth, and a wrong kernel, a lost
  residual or a dtype mix-up gives relative errors of order 1. Bounds: 1e-2 (fp16), 5e-2 (bf16).
"""

import pytest
import torch

from smt_mm.models.backbones import SMT

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'),
]
#: Small, but every kind of block: SAM stages, the alternating stage 3, MSA stage 4.
ARCH = dict(embed_dims=(32, 64, 96, 128), depths=(2, 2, 4, 1), mlp_ratios=(4, 4, 4, 2), head_conv=3)
RELATIVE_BOUND = {torch.float16: 1e-2, torch.bfloat16: 5e-2}


@pytest.fixture(autouse=True)
def no_tf32():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def run(model, x, dtype=None, forward=None):
    """Outputs (fp32) and parameter gradients of a weighted sum of ``forward(x)`` (the model's)."""
    model.zero_grad(set_to_none=True)
    with torch.autocast('cuda', dtype=dtype or torch.float32, enabled=dtype is not None):
        outs = (model if forward is None else forward)(x)
    weights = [torch.linspace(-1, 1, o.numel(), device=x.device).view_as(o) for o in outs]
    sum((o.float() * w).sum() for o, w in zip(outs, weights, strict=True)).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return [o.detach().float() for o in outs], grads


def relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


def assert_gradients_close(grads, expected, tolerance):
    """Gradients agree up to ``tolerance`` times the largest one (some are 0 in theory: a conv
    bias before train-mode BatchNorm), and are finite."""
    scale = max(g.abs().max().item() for g in expected.values())
    for name, grad in expected.items():
        assert torch.isfinite(grads[name]).all(), name
        torch.testing.assert_close(grads[name], grad, atol=tolerance * scale, rtol=0, msg=name)


@pytest.fixture(scope='module')
def model_and_input():
    torch.manual_seed(0)
    model = SMT(ARCH, use_layerscale=True, layer_scale_init_value=0.5).cuda().train()
    return model, torch.randn(2, 3, 224, 320, device='cuda')


def test_auto_runs_the_plain_path_where_cuda_is_available():
    model = SMT(ARCH)
    assert not model.fused and not model.stages[0][0].ffn.fused
    model.cuda()
    assert not model.fused
    assert SMT(ARCH, fused=True).cuda().fused  # an explicit choice stays


@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
def test_forward_and_backward_do_not_synchronise(fused):
    """torch's sync debug mode raises on any host-device synchronisation."""
    model = SMT(ARCH, fused=fused).cuda().train()
    x = torch.randn(2, 3, 67, 93, device='cuda')
    model(x)  # warm-up: cuDNN picks its algorithms
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        outs = model(x)
        sum(o.sum() for o in outs).backward()
        model.check_finite = True
        with pytest.raises(RuntimeError, match='synchroniz'):
            model(x)
    finally:
        torch.cuda.set_sync_debug_mode('default')


def test_fused_and_plain_paths_agree_in_fp32(model_and_input):
    model, x = model_and_input
    model.fused = True
    fused_outs, fused_grads = run(model, x)
    model.fused = False
    plain_outs, plain_grads = run(model, x)
    for f, p in zip(fused_outs, plain_outs, strict=True):
        assert (f - p).abs().max().item() <= 1e-4
    assert_gradients_close(fused_grads, plain_grads, 1e-5)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
def test_autocast_paths_agree_and_gradients_are_finite(model_and_input, dtype):
    model, x = model_and_input
    model.fused = False
    reference, _ = run(model, x)
    for fused in (True, False):
        model.fused = fused
        outs, grads = run(model, x, dtype)
        for o, r in zip(outs, reference, strict=True):
            assert relative_error(o, r) <= RELATIVE_BOUND[dtype], (fused, dtype)
        for name, grad in grads.items():
            assert grad.dtype == torch.float32 and torch.isfinite(grad).all(), (fused, name)


@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
def test_torch_compile_forward_and_backward(model_and_input, fused):
    model, x = model_and_input
    model.fused = fused
    eager_outs, eager_grads = run(model, x)
    outs, grads = run(model, x, forward=torch.compile(model))
    for o, e in zip(outs, eager_outs, strict=True):
        assert (o - e).abs().max().item() <= 1e-3
    assert_gradients_close(grads, eager_grads, 1e-4)
