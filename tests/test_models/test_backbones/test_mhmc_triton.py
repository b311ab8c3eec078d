"""The Triton MHMC kernels (``SMT(mhmc='triton')``): on CPU under Triton's interpreter, and on CUDA.

``triton.jit`` decides when it decorates a kernel, i.e. when
``smt_mm.models.backbones.mhmc_triton`` is imported, whether the kernel runs interpreted on CPU
tensors (``TRITON_INTERPRET=1``) or compiled for a GPU. So the interpreter tests run in a child
pytest of this same file started with ``TRITON_INTERPRET=1`` (``test_kernels_under_the_
interpreter``); in this process they are skipped, and the kernels are imported compiled, for the
CUDA tests (``pytest -m cuda``) and the CPU refusal. The interpreter runs every program in
Python, so the shapes are tiny (about 30 s in all: the driver is marked slow), and in float64,
so that any wrong tap, offset or mask shows as an error far above rounding.
"""

import os
import re
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from smt_mm.models.backbones import SMT

pytest.importorskip('triton', minversion='3.0', reason='the kernels need triton >= 3.0')

INTERPRETED = os.environ.get('TRITON_INTERPRET', '0') == '1'
interpreted_only = pytest.mark.skipif(
    not INTERPRETED,
    reason='run by the TRITON_INTERPRET=1 child of test_kernels_under_the_interpreter',
)
MINI = dict(embed_dims=(16, 32, 48, 64), depths=(1, 2, 1, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)


def head_convs(heads, head_dims, dtype=torch.float64, device='cpu'):
    torch.manual_seed(heads)
    convs = nn.ModuleList(
        nn.Conv2d(head_dims, head_dims, 3 + 2 * i, padding=1 + i, groups=head_dims)
        for i in range(heads)
    )
    for conv in convs:  # visible biases
        nn.init.normal_(conv.bias)
    return convs.to(device, dtype)


def plain_mhmc(s, convs):
    """The plain path's MHMC: per-head depthwise convs, heads interleaved (NCHW out)."""
    heads = s.permute(0, 3, 1, 2).chunk(len(convs), dim=1)
    return torch.stack([c(h) for c, h in zip(convs, heads, strict=True)], 2).flatten(1, 2)


def outputs_and_grads(fn, s, convs):
    """``fn(s, convs)`` and the gradients of a fixed weighted sum of it (input, then params)."""
    out = fn(s, convs)
    weight = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device)
    grads = torch.autograd.grad((out * weight.view_as(out)).sum(), [s, *convs.parameters()])
    return out.detach(), grads


@interpreted_only
@pytest.mark.parametrize('heads,head_dims,shape', [(4, 2, (1, 7, 9)), (2, 3, (2, 9, 7))])
def test_interpreted_kernels_match_the_plain_mhmc(heads, head_dims, shape):
    from smt_mm.models.backbones import mhmc_triton

    assert mhmc_triton.INTERPRETED
    convs = head_convs(heads, head_dims)
    s = torch.randn(*shape, heads * head_dims, dtype=torch.float64, requires_grad=True)
    out, grads = outputs_and_grads(mhmc_triton.multi_head_mixed_conv, s, convs)
    expected, expected_grads = outputs_and_grads(plain_mhmc, s, convs)
    assert out.is_contiguous(memory_format=torch.channels_last)  # (B, H, W, C) underneath
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    for grad, reference in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, reference, rtol=1e-12, atol=1e-12)


@interpreted_only
def test_interpreted_kernel_gradient_sums_every_pixel_block_and_share():
    """Several pixel blocks per share, several shares, a last block cut short."""
    from smt_mm.models.backbones import mhmc_triton

    heads, head_dims = 3, 2
    convs = head_convs(heads, head_dims)
    s = torch.randn(2, 5, 7, heads * head_dims, dtype=torch.float64)  # 70 pixels
    grad = torch.randn_like(s)
    weight, _ = mhmc_triton.pack_kernels(convs)
    kernel_grad = mhmc_triton.mhmc_weight_grad(s, grad, heads, block_pixels=8, splits=3)
    expected = torch.zeros_like(kernel_grad)
    for i, head in enumerate(s.permute(0, 3, 1, 2).chunk(heads, dim=1)):
        out = F.conv2d(head, convs[i].weight, None, padding=1 + i, groups=head_dims)
        interleaved_grad = grad[..., i::heads].permute(0, 3, 1, 2)
        (kernel,) = torch.autograd.grad((out * interleaved_grad).sum(), [convs[i].weight])
        expected[i, :, : 3 + 2 * i, : 3 + 2 * i] = kernel.squeeze(1)
    torch.testing.assert_close(kernel_grad, expected, rtol=1e-12, atol=1e-12)
    assert weight.shape == kernel_grad.shape == (heads, head_dims, 7, 7)


@interpreted_only
@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
def test_interpreted_smt_with_triton_mhmc_matches_the_plain_path(fused):
    """The whole backbone, train mode, float64: outputs and every parameter's gradient."""
    torch.manual_seed(0)
    arch = dict(MINI, depths=(1, 1, 1, 1))  # three SAM blocks
    reference = SMT(arch, fused=False).double().train()
    model = SMT(arch, fused=fused, mhmc='triton').double().train()
    model.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, 24, 36, dtype=torch.float64)
    results = []
    for m in (model, reference):
        outs = m(x)
        sum((o * torch.cos(torch.arange(o.numel()).view_as(o))).sum() for o in outs).backward()
        results.append(([o.detach() for o in outs], {n: p.grad for n, p in m.named_parameters()}))
    (outs, grads), (expected, expected_grads) = results
    for o, e in zip(outs, expected, strict=True):
        torch.testing.assert_close(o, e, rtol=1e-9, atol=1e-9)
    largest = max(g.abs().max().item() for g in expected_grads.values())
    for name, grad in expected_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-7, atol=1e-9 * largest, msg=name)


@pytest.mark.slow
@pytest.mark.skipif(INTERPRETED, reason='this is the interpreter run')
def test_kernels_under_the_interpreter():
    """Run this file's interpreter tests in a child pytest with ``TRITON_INTERPRET=1``.

    About 30 s on one CPU core: the interpreter runs each program in Python.
    """
    env = dict(os.environ, TRITON_INTERPRET='1', CUDA_VISIBLE_DEVICES='')
    command = [sys.executable, '-m', 'pytest', __file__, '-q', '-p', 'no:cacheprovider']
    result = subprocess.run(
        [*command, '-m', 'not cuda'],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r'\b5 passed', result.stdout), result.stdout[-2000:]  # all five ran


@pytest.mark.skipif(INTERPRETED, reason='the interpreter accepts CPU tensors')
def test_compiled_kernels_refuse_cpu_tensors_and_name_the_fix():
    model = SMT(MINI, fused=False, mhmc='triton')
    assert "mhmc='triton'" in repr(model)
    with pytest.raises(
        RuntimeError, match="runs on CUDA tensors, got a cpu tensor; use mhmc='conv'"
    ):
        model(torch.rand(1, 3, 32, 32))


@pytest.mark.skipif(INTERPRETED, reason='the interpreter does not compile')
def test_kernels_compile_for_an_h100_without_one():
    """Triton's compiler (bundled ptxas) builds every kernel for sm_90 here, GPU or not.

    The interpreter runs the kernels' Python and misses what only the compiler rejects
    (e.g. a reassigned constexpr, a loop bound that is not a compile-time constant).
    """
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from smt_mm.models.backbones import mhmc_triton

    ints = dict.fromkeys(('height', 'width', 'num_pixels', 'head_dims'), 'i32')
    for dtype, acc in (('fp32', tl.float32), ('bf16', tl.float32), ('fp64', tl.float64)):
        for transposed in (False, True):
            signature = dict(src_ptr=f'*{dtype}', weight_ptr='*fp32', bias_ptr='*fp32')
            signature.update(dst_ptr=f'*{dtype}', **ints)
            constants = dict(HEADS=4, HAS_BIAS=not transposed, TRANSPOSED=transposed)
            constants.update(BLOCK_P=64, BLOCK_D=16, ACC=acc)
            signature.update(dict.fromkeys(constants, 'constexpr'))
            source = ASTSource(mhmc_triton._mhmc_conv_kernel, signature, constants)
            assert triton.compile(source, target=GPUTarget('cuda', 90, 32)).asm['ptx']
        partial = 'fp64' if dtype == 'fp64' else 'fp32'
        signature = dict(src_ptr=f'*{dtype}', grad_ptr=f'*{dtype}', partial_ptr=f'*{partial}')
        signature.update(**ints, splits='i32')
        constants = dict(HEADS=4, BLOCK_P=128, BLOCK_D=16, ROW_TAPS=16, ACC=acc)
        signature.update(dict.fromkeys(constants, 'constexpr'))
        source = ASTSource(mhmc_triton._mhmc_weight_grad_kernel, signature, constants)
        assert triton.compile(source, target=GPUTarget('cuda', 90, 32)).asm['ptx']


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
class TestOnCUDA:
    """The compiled kernels on a GPU: fp32 (TF32 off), bf16 autocast, torch.compile."""

    @pytest.fixture(autouse=True)
    def no_tf32(self):
        saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        yield
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved

    @pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
    def test_kernels_match_the_plain_mhmc(self, dtype):
        from smt_mm.models.backbones import mhmc_triton

        convs = head_convs(4, 32, dtype, 'cuda')  # two channel blocks, many pixel blocks
        s = torch.randn(3, 29, 45, 128, dtype=dtype, device='cuda', requires_grad=True)
        out, grads = outputs_and_grads(mhmc_triton.multi_head_mixed_conv, s, convs)
        expected, expected_grads = outputs_and_grads(plain_mhmc, s, convs)
        tolerance = 1e-12 if dtype == torch.float64 else 1e-5
        assert ((out - expected).norm() / expected.norm()).item() <= tolerance
        for grad, reference in zip(grads, expected_grads, strict=True):
            assert ((grad - reference).norm() / reference.norm()).item() <= tolerance

    @pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
    @pytest.mark.parametrize('dtype', [None, torch.bfloat16], ids=['fp32', 'bf16'])
    def test_smt_with_triton_mhmc_matches_the_plain_path(self, fused, dtype):
        torch.manual_seed(0)
        reference = SMT(MINI, fused=False).cuda().train()
        model = SMT(MINI, fused=fused, mhmc='triton').cuda().train()
        model.load_state_dict(reference.state_dict())
        x = torch.randn(2, 3, 96, 128, device='cuda')
        results = []
        for m in (model, reference):
            with torch.autocast('cuda', dtype=dtype or torch.float32, enabled=dtype is not None):
                outs = m(x)
            sum(o.float().sum() for o in outs).backward()
            results.append(([o.float() for o in outs], [p.grad for p in m.parameters()]))
        (outs, grads), (expected, expected_grads) = results
        bound = 1e-5 if dtype is None else 5e-2
        for o, e in zip(outs, expected, strict=True):
            assert ((o - e).norm() / e.norm()).item() <= bound
        for g, e in zip(grads, expected_grads, strict=True):
            assert g.dtype == torch.float32 and torch.isfinite(g).all()
            if dtype is None:
                assert (g - e).norm().item() <= 1e-4 * e.norm().item() + 1e-6

    def test_torch_compile_forward_and_backward(self):
        torch.manual_seed(0)
        model = SMT(MINI, fused=False, mhmc='triton').cuda().train()
        x = torch.randn(2, 3, 96, 128, device='cuda')
        eager = [o.detach() for o in model(x)]
        outs = torch.compile(model)(x)
        for o, e in zip(outs, eager, strict=True):
            assert (o - e).abs().max().item() <= 1e-4
        sum(o.sum() for o in outs).backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
