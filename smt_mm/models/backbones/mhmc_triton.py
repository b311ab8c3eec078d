"""SAM's multi-head mixed convolution (MHMC) as Triton kernels, for CUDA (opt-in).

Selected by ``SMT(mhmc='triton')``; never chosen automatically. One launch computes every
head's depthwise convolution (kernel ``3 + 2i`` for head ``i``, a compile-time constant per
head) straight from the channels-last output of the ``s`` projection and writes the result
already interleaved (channel ``k * heads + i`` is channel ``k`` of head ``i``), the order
``proj0`` reads. The backward pass is two more launches: the input gradient (the same kernel,
kernels flipped, interleaving undone) and the kernel gradient (per-program partial sums over
pixel blocks, added up by one ``sum``). Accumulation is in float32 for float32 and narrower
inputs (float64 for float64 ones); the parameters' dtype is kept, so float32 kernels get float32
gradients under autocast, and are not rounded to the autocast dtype as ``F.conv2d`` rounds them.

The kernels run on CUDA tensors. Triton's interpreter runs them on CPU tensors when
``TRITON_INTERPRET=1`` is in the environment before this module is imported (``triton.jit``
reads it when it decorates a kernel): that is how the tests check them without a GPU.
"""

import math
import os
from typing import Any, cast

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from packaging.version import Version
from torch import Tensor, nn

#: The oldest triton the kernels are written for (its interpreter runs CPU tensors).
MIN_TRITON = '3.0'
if Version(triton.__version__).release < Version(MIN_TRITON).release:
    raise ImportError(
        f'the Triton MHMC kernels need triton >= {MIN_TRITON}, not {triton.__version__}'
    )

#: Whether the kernels were built for Triton's interpreter (CPU tensors) at import.
INTERPRETED = os.environ.get('TRITON_INTERPRET', '0') == '1'

#: Pixels and channels (of one head) per program of the convolution kernels.
BLOCK_PIXELS, BLOCK_CHANNELS = 64, 16


@triton.jit
def _mhmc_conv_kernel(
    src_ptr,
    weight_ptr,
    bias_ptr,
    dst_ptr,
    height,
    width,
    num_pixels,
    head_dims,
    HEADS: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    TRANSPOSED: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_D: tl.constexpr,
    ACC: tl.constexpr,
):
    """Every head's depthwise conv of a channels-last ``(B, H, W, C)`` map, one pixel block.

    Forward (``TRANSPOSED=False``): reads channel ``i * D + k`` (head ``i``, as ``s`` writes
    it), writes channel ``k * HEADS + i`` (interleaved). ``TRANSPOSED=True`` is the input
    gradient: reads the interleaved gradient, convolves with the flipped kernels and writes
    the head-major order. Weights are ``(HEADS, D, KMAX, KMAX)``, head ``i``'s kernel in the
    top-left ``(3 + 2i)`` square.
    """
    kmax: tl.constexpr = 2 * HEADS + 1
    channels = head_dims * HEADS
    pixel = tl.program_id(0).to(tl.int64) * BLOCK_P + tl.arange(0, BLOCK_P)
    k = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    pixel_ok = pixel < num_pixels
    k_ok = k < head_dims
    col = pixel % width
    row = (pixel // width) % height
    for i in tl.static_range(HEADS):
        pad = 1 + i  # head i's kernel is 2 i + 3 = 2 pad + 1 wide
        if TRANSPOSED:
            src_channel = k * HEADS + i
            dst_channel = i * head_dims + k
        else:
            src_channel = i * head_dims + k
            dst_channel = k * HEADS + i
        acc = tl.zeros((BLOCK_P, BLOCK_D), dtype=ACC)
        if HAS_BIAS:
            acc += tl.load(bias_ptr + i * head_dims + k, mask=k_ok, other=0.0).to(ACC)[None, :]
        # Loops with compile-time bounds, not unrolled (164 unrolled taps took a minute to build)
        for dy in range(2 * i + 3):
            shift_y = pad - dy if TRANSPOSED else dy - pad
            row_ok = pixel_ok & (row + shift_y >= 0) & (row + shift_y < height)
            for dx in range(2 * i + 3):
                shift_x = pad - dx if TRANSPOSED else dx - pad
                ok = row_ok & (col + shift_x >= 0) & (col + shift_x < width)
                source = (pixel + shift_y * width + shift_x) * channels
                values = tl.load(
                    src_ptr + source[:, None] + src_channel[None, :],
                    mask=ok[:, None] & k_ok[None, :],
                    other=0.0,
                )
                tap = tl.load(
                    weight_ptr + ((i * head_dims + k) * kmax + dy) * kmax + dx, mask=k_ok, other=0.0
                )
                acc += values.to(ACC) * tap.to(ACC)[None, :]
        tl.store(
            dst_ptr + pixel[:, None] * channels + dst_channel[None, :],
            acc.to(dst_ptr.dtype.element_ty),
            mask=pixel_ok[:, None] & k_ok[None, :],
        )


@triton.jit
def _mhmc_weight_grad_kernel(
    src_ptr,
    grad_ptr,
    partial_ptr,
    height,
    width,
    num_pixels,
    head_dims,
    splits,
    HEADS: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_D: tl.constexpr,
    ROW_TAPS: tl.constexpr,
    ACC: tl.constexpr,
):
    """Partial kernel gradients: one kernel row ``dy`` of one head over a share of the pixels.

    Program ``(split, channel block, r)``: ``r`` enumerates the kernel rows of every head
    (head ``i`` owns rows ``i (i + 2)`` to ``(i + 1) (i + 3) - 1``); the program sums
    ``grad * shifted input`` over the pixel blocks ``split, split + splits, ...`` and writes
    its ``(3 + 2i)`` taps of that row to ``partial[split, i, k, dy]``.
    """
    kmax: tl.constexpr = 2 * HEADS + 1
    channels = head_dims * HEADS
    split = tl.program_id(0)
    k = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    r = tl.program_id(2)
    k_ok = k < head_dims
    taps = tl.arange(0, ROW_TAPS)
    for i in tl.static_range(HEADS):
        pad = 1 + i
        if (r >= i * (i + 2)) & (r < (i + 1) * (i + 3)):
            dy = r - i * (i + 2)
            acc = tl.zeros((ROW_TAPS, BLOCK_D), dtype=ACC)
            for start in range(split * BLOCK_P, num_pixels, splits * BLOCK_P):
                pixel = start + tl.arange(0, BLOCK_P).to(tl.int64)
                pixel_ok = pixel < num_pixels
                col = pixel % width
                row = (pixel // width) % height
                grad = tl.load(
                    grad_ptr + pixel[:, None] * channels + (k * HEADS + i)[None, :],
                    mask=pixel_ok[:, None] & k_ok[None, :],
                    other=0.0,
                ).to(ACC)
                row_ok = pixel_ok & (row + dy - pad >= 0) & (row + dy - pad < height)
                for dx in range(2 * i + 3):
                    ok = row_ok & (col + dx - pad >= 0) & (col + dx - pad < width)
                    source = (pixel + (dy - pad) * width + dx - pad) * channels
                    values = tl.load(
                        src_ptr + source[:, None] + (i * head_dims + k)[None, :],
                        mask=ok[:, None] & k_ok[None, :],
                        other=0.0,
                    )
                    tap_sum = tl.sum(values.to(ACC) * grad, axis=0)
                    acc += tl.where(taps[:, None] == dx, tap_sum[None, :], 0.0)
            out = ((split * HEADS + i) * head_dims + k[None, :]) * kmax + dy
            tl.store(
                partial_ptr + out * kmax + taps[:, None],
                acc,
                mask=(taps[:, None] < 2 * i + 3) & k_ok[None, :],
            )


def _accumulator(dtype: torch.dtype) -> Any:
    """The Triton dtype sums are kept in: float64 for float64 inputs, float32 otherwise."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def _check_device(x: Tensor) -> None:
    """Refuse tensors the kernels cannot run on, naming the fix."""
    if x.device.type != 'cuda' and not INTERPRETED:
        raise RuntimeError(
            f"SMT(mhmc='triton') runs on CUDA tensors, got a {x.device.type} tensor; use "
            "mhmc='conv' there (on CPU the Triton kernels run only under Triton's interpreter, "
            'TRITON_INTERPRET=1 set before smt_mm.models.backbones.mhmc_triton is imported).'
        )


def _default_splits(pixel_blocks: int, programs_per_split: int, device: torch.device) -> int:
    """Pixel shares of the kernel gradient: about four programs per multiprocessor.

    One share under the interpreter, which runs the programs one by one.
    """
    if device.type != 'cuda':
        return 1
    sms = torch.cuda.get_device_properties(device).multi_processor_count
    return max(1, min(pixel_blocks, math.ceil(4 * sms / programs_per_split)))


def mhmc_forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Run the forward kernel.

    Args:
        x (Tensor): ``(B, H, W, C)``, contiguous, heads in blocks of ``C / heads`` channels.
        weight (Tensor): ``(heads, C / heads, 2 heads + 1, 2 heads + 1)``, kernel ``i`` in the
            top-left ``3 + 2i`` square.
        bias (Tensor, optional): ``(heads, C / heads)``.

    Returns:
        Tensor: ``(B, H, W, C)``, contiguous, heads interleaved.
    """
    _check_device(x)
    heads, head_dims = weight.shape[:2]
    out = torch.empty_like(x)
    grid = (triton.cdiv(x[..., 0].numel(), BLOCK_PIXELS), triton.cdiv(head_dims, BLOCK_CHANNELS))
    _mhmc_conv_kernel[grid](
        x, weight, weight if bias is None else bias, out, x.shape[1], x.shape[2],
        x[..., 0].numel(), head_dims, HEADS=heads, HAS_BIAS=bias is not None,
        TRANSPOSED=False, BLOCK_P=BLOCK_PIXELS, BLOCK_D=BLOCK_CHANNELS,
        ACC=_accumulator(x.dtype),
    )  # fmt: skip
    return out


def mhmc_input_grad(grad: Tensor, weight: Tensor) -> Tensor:
    """Gradient of :func:`mhmc_forward` with respect to ``x`` (same layouts, reversed)."""
    _check_device(grad)
    heads, head_dims = weight.shape[:2]
    out = torch.empty_like(grad)
    grid = (
        triton.cdiv(grad[..., 0].numel(), BLOCK_PIXELS),
        triton.cdiv(head_dims, BLOCK_CHANNELS),
    )
    _mhmc_conv_kernel[grid](
        grad, weight, weight, out, grad.shape[1], grad.shape[2], grad[..., 0].numel(),
        head_dims, HEADS=heads, HAS_BIAS=False, TRANSPOSED=True, BLOCK_P=BLOCK_PIXELS,
        BLOCK_D=BLOCK_CHANNELS, ACC=_accumulator(grad.dtype),
    )  # fmt: skip
    return out


def mhmc_weight_grad(
    x: Tensor,
    grad: Tensor,
    heads: int,
    block_pixels: int = 128,
    splits: int | None = None,
) -> Tensor:
    """Gradient of :func:`mhmc_forward` with respect to ``weight``.

    Args:
        x (Tensor): The forward input ``(B, H, W, C)``, contiguous.
        grad (Tensor): The output gradient ``(B, H, W, C)``, contiguous, interleaved.
        heads (int): Heads.
        block_pixels (int): Pixels per step of a program (a power of 2). Defaults to 128.
        splits (int, optional): Pixel shares summed separately; None picks about four
            programs per multiprocessor. Defaults to None.

    Returns:
        Tensor: ``(heads, C / heads, 2 heads + 1, 2 heads + 1)``, zero outside each kernel;
        float64 for float64 inputs, float32 otherwise.
    """
    _check_device(x)
    head_dims, kmax = x.shape[-1] // heads, 2 * heads + 1
    num_pixels = x[..., 0].numel()
    channel_blocks = triton.cdiv(head_dims, BLOCK_CHANNELS)
    rows = heads * (heads + 2)  # kernel rows of all heads: 3 + 5 + ... + (2 heads + 1)
    if splits is None:
        splits = _default_splits(
            triton.cdiv(num_pixels, block_pixels), channel_blocks * rows, x.device
        )
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    partial = torch.zeros(splits, heads, head_dims, kmax, kmax, dtype=dtype, device=x.device)
    _mhmc_weight_grad_kernel[(splits, channel_blocks, rows)](
        x, grad, partial, x.shape[1], x.shape[2], num_pixels, head_dims, splits, HEADS=heads,
        BLOCK_P=block_pixels, BLOCK_D=BLOCK_CHANNELS, ROW_TAPS=triton.next_power_of_2(kmax),
        ACC=_accumulator(x.dtype),
    )  # fmt: skip
    return partial.sum(0)


class MHMCFunction(torch.autograd.Function):
    """Autograd for the kernels: ``(x, weight, bias) -> interleaved multi-head conv``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """Convolve, saving ``x`` and ``weight``."""
        x = x.contiguous()
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return mhmc_forward(x, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        """Gradients of ``x``, ``weight`` and ``bias`` where they are needed."""
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        heads = weight.shape[0]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = mhmc_input_grad(grad, weight)
        if ctx.needs_input_grad[1]:
            grad_weight = mhmc_weight_grad(x, grad, heads).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            sums = grad.flatten(0, -2).sum(0, dtype=torch.promote_types(grad.dtype, torch.float32))
            grad_bias = sums.view(-1, heads).t().to(weight.dtype)
        return grad_x, grad_weight, grad_bias


def pack_kernels(convs: nn.ModuleList) -> tuple[Tensor, Tensor | None]:
    """Stack the per-head depthwise kernels (and biases) in the layout the kernels read.

    Args:
        convs (nn.ModuleList): Head ``i``'s depthwise :class:`~torch.nn.Conv2d`, kernel
            ``3 + 2i``.

    Returns:
        tuple[Tensor, Tensor | None]: Kernels ``(heads, D, 2 heads + 1, 2 heads + 1)``, each
        zero-padded at the bottom and right, and biases ``(heads, D)`` (None without bias).

    Raises:
        ValueError: If head ``i``'s kernel is not ``3 + 2i`` wide.
    """
    kmax = 2 * len(convs) + 1
    kernels, biases = [], []
    for i, conv in enumerate(convs):
        assert isinstance(conv, nn.Conv2d)
        size = conv.weight.shape[-1]
        if size != 3 + 2 * i or conv.weight.shape[-2] != size:
            raise ValueError(
                f'head {i} of the Triton MHMC needs a {3 + 2 * i}x{3 + 2 * i} kernel, got '
                f'{tuple(conv.weight.shape[-2:])}.'
            )
        kernels.append(F.pad(conv.weight.flatten(0, 1), [0, kmax - size, 0, kmax - size]))
        biases.append(conv.bias)
    bias = None if any(b is None for b in biases) else torch.stack(cast(list[Tensor], biases))
    return torch.stack(kernels), bias


def multi_head_mixed_conv(s: Tensor, convs: nn.ModuleList) -> Tensor:
    """SAM's MHMC of the ``s`` projection's output, heads interleaved, through the kernels.

    Args:
        s (Tensor): ``(B, H, W, C)``, the output of the ``s`` projection.
        convs (nn.ModuleList): Head ``i``'s depthwise :class:`~torch.nn.Conv2d`, kernel
            ``3 + 2i``.

    Returns:
        Tensor: ``(B, C, H, W)``, a channels-last view, channel ``k * heads + i`` being
        channel ``k`` of head ``i``: what ``proj0`` reads on both SMT paths.
    """
    weight, bias = pack_kernels(convs)
    return MHMCFunction.apply(s, weight, bias).permute(0, 3, 1, 2)
