"""Fused and memory-lean operations behind SMT's default (``fused=True``) path.

Each public helper here computes exactly what a few lines of plain PyTorch in
:mod:`smt_mm.models.backbones.smt` compute (the plain path, ``SMT(fused=False)``), faster or with
less activation memory:

* :func:`mhmc_interleaved`: SAM's per-head depthwise convolutions and channel interleave as one
  depthwise convolution of zero-padded kernels on already interleaved ``s`` rows.
* :func:`dwconv_residual_act_linear`: the FFN's ``fc2(act(h + dwconv(h)))`` as one depthwise
  convolution (kernel centre + 1) whose hidden maps are recomputed in the backward pass.
* :func:`conv_bn`: a convolution followed by BatchNorm in eval mode, folded into one convolution.
* :func:`act_linear`: ``linear(act(x))`` that keeps only ``x`` for the backward pass.

The weights and their names are the same on both paths; only the arithmetic is rearranged.
"""

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.compat import autocast_dtype


def depthwise(x: Tensor, kernel: Tensor, bias: Tensor | None, padding: int | None = None) -> Tensor:
    """Depthwise convolution with 'same' padding and stride 1.

    Args:
        x (Tensor): ``(B, C, H, W)``, possibly a channels-last strided view.
        kernel (Tensor): ``(C, 1, k, k)`` with an odd ``k``.
        bias (Tensor, optional): ``(C,)``.
        padding (int, optional): ``k // 2`` as a Python int, from the caller's modules: under
            ``torch.jit.trace`` (the FLOP counter) torch < 2.6 sees ``kernel.shape[-1]`` as a
            0-d tensor, which ``conv2d`` refuses as padding. Defaults to None (read from the
            kernel's shape).

    Returns:
        Tensor: ``(B, C, H, W)``.
    """
    if padding is None:
        padding = kernel.shape[-1] // 2
    return F.conv2d(x, kernel, bias, padding=padding, groups=kernel.shape[0])


def _depthwise_backward(
    grad: Tensor, x: Tensor, kernel: Tensor, output_mask: list[bool]
) -> tuple[Tensor | None, ...]:
    """ATen's gradients of :func:`depthwise` (input, kernel, bias) where ``output_mask`` asks."""
    channels, padding = kernel.shape[0], kernel.shape[-1] // 2
    return torch.ops.aten.convolution_backward(
        grad, x, kernel, [channels] if output_mask[2] else None, [1, 1], [padding, padding],
        [1, 1], False, [0, 0], channels, output_mask,
    )  # fmt: skip


def gelu_(x: Tensor, approximate: str = 'none') -> Tensor:
    """GELU of a temporary map, in place.

    Large maps on CPU are cheaper to overwrite than to allocate: a fresh output of more than
    32 MiB is a new ``mmap`` whose pages all fault on first write, which costs more than the
    GELU itself.

    Args:
        x (Tensor): A map nothing else reads afterwards.
        approximate (str): ``'none'`` or ``'tanh'``, as :class:`torch.nn.GELU`.

    Returns:
        Tensor: ``x`` itself, activated.
    """
    return torch.ops.aten.gelu_(x, approximate=approximate)


def _gelu_backward_(grad: Tensor, x: Tensor) -> Tensor:
    """``gelu_backward(grad, x)`` written over ``grad`` (a temporary), see :func:`gelu_`."""
    return torch.ops.aten.gelu_backward.grad_input(grad, x, grad_input=grad)


def activate(act: nn.Module, x: Tensor) -> Tensor:
    """``act(x)`` for a temporary ``x``: GELU runs in place when no gradient is recorded.

    Args:
        act (nn.Module): The activation module.
        x (Tensor): A map nothing else reads afterwards.

    Returns:
        Tensor: The activated map (``x`` itself for an in-place GELU).
    """
    if isinstance(act, nn.GELU) and not (torch.is_grad_enabled() and x.requires_grad):
        return gelu_(x, act.approximate)
    return act(x)


def _recompute_gelu(act: nn.Module) -> bool:
    """Whether the memory-lean GELU functions apply: exact GELU, gradients on."""
    return isinstance(act, nn.GELU) and act.approximate == 'none' and torch.is_grad_enabled()


def _autocast(*tensors: Tensor | None) -> list[Tensor | None]:
    """Cast tensors as autocast would, so that a custom Function's backward sees one dtype."""
    dtype = autocast_dtype(next(t for t in tensors if t is not None).device.type)
    if dtype is None:
        return list(tensors)
    return [None if t is None else t.to(dtype) for t in tensors]


class GeluLinear(torch.autograd.Function):
    """``linear(gelu(x))`` that keeps only ``x`` for the backward pass and recomputes the GELU.

    Saves the activation map that ``linear`` would otherwise keep (the largest tensors of the
    SAM aggregation) at the cost of one elementwise GELU in the backward pass.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """Compute ``linear(gelu(x))``, saving ``x`` and ``weight``."""
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.linear(F.gelu(x), weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        """Gradients of ``x``, ``weight`` and ``bias``, recomputing ``gelu(x)``."""
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _gelu_backward_(grad.matmul(weight), x)
        if ctx.needs_input_grad[1]:
            grad_weight = grad.flatten(0, -2).t().matmul(F.gelu(x).flatten(0, -2))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.flatten(0, -2).sum(0)
        return grad_x, grad_weight, grad_bias


class DWConvGeluLinear(torch.autograd.Function):
    """``linear(gelu(dwconv(x)))`` that keeps only ``x`` for the backward pass.

    The depthwise convolution and the GELU are recomputed in the backward pass, so neither of
    the two hidden-width maps of the FFN is kept alive between forward and backward. ``x`` is
    an NCHW view of a channels-last map; the result is channels-last.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        kernel: Tensor,
        conv_bias: Tensor | None,
        weight: Tensor,
        bias: Tensor | None,
    ) -> Tensor:
        """Compute ``linear(gelu(dwconv(x)))``, saving only the inputs."""
        ctx.save_for_backward(x, kernel, conv_bias, weight)
        ctx.has_bias = bias is not None
        return F.linear(gelu_(depthwise(x, kernel, conv_bias).permute(0, 2, 3, 1)), weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        """Gradients of every input, recomputing the hidden map."""
        x, kernel, conv_bias, weight = ctx.saved_tensors
        hidden = depthwise(x, kernel, conv_bias).permute(0, 2, 3, 1)
        grad_rows = grad.flatten(0, -2)
        grad_weight = grad_bias = None
        grad_hidden = _gelu_backward_(grad.matmul(weight), hidden)
        if ctx.needs_input_grad[3]:  # hidden is not needed any more: activate it in place
            grad_weight = grad_rows.t().matmul(gelu_(hidden).flatten(0, -2))
        if ctx.has_bias and ctx.needs_input_grad[4]:
            grad_bias = grad_rows.sum(0)
        grad_x, grad_kernel, grad_conv_bias = _depthwise_backward(
            grad_hidden.permute(0, 3, 1, 2),
            x,
            kernel,
            [*ctx.needs_input_grad[:2], conv_bias is not None and ctx.needs_input_grad[2]],
        )
        return grad_x, grad_kernel, grad_conv_bias, grad_weight, grad_bias


class LargeDepthwise(torch.autograd.Function):
    """Depthwise convolution (stride 1, 'same' padding) with a faster kernel gradient on CPU.

    For large kernels (SAM's fused 9 x 9) ATen's depthwise weight gradient on CPU is several
    times slower than the forward pass. The same sums come out of an ordinary convolution, one
    image at a time: image ``b`` of the padded input, as ``C`` one-channel maps, convolved
    (``groups=C``) with the ``C`` output-gradient maps of that image as kernels gives the
    ``k x k`` kernel gradient of every channel. The input gradient is ATen's.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
        """Compute :func:`depthwise`, saving ``x`` and ``kernel``."""
        ctx.save_for_backward(x, kernel)
        ctx.has_bias = bias is not None
        return depthwise(x, kernel, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        """Gradients of ``x`` (ATen's), ``kernel`` (per image) and ``bias``."""
        x, kernel = ctx.saved_tensors
        channels, _, size, _ = kernel.shape
        pad = size // 2
        grad_x = grad_kernel = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _depthwise_backward(grad, x, kernel, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            grad_kernel = torch.zeros_like(kernel)
            for b in range(x.shape[0]):
                image = F.pad(x[b].unsqueeze(1), [pad] * 4).contiguous()  # (C, 1, H', W')
                kernels = grad[b].unsqueeze(1).contiguous()  # (C, 1, H, W)
                grad_kernel += F.conv2d(
                    image.view(1, channels, *image.shape[-2:]), kernels, groups=channels
                ).view_as(kernel)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_kernel, grad_bias


def large_depthwise(x: Tensor, kernel: Tensor, bias: Tensor | None, size: int) -> Tensor:
    """:func:`depthwise`; on CPU with gradients and kernels >= 7, through :class:`LargeDepthwise`.

    Args:
        x (Tensor): ``(B, C, H, W)``.
        kernel (Tensor): ``(C, 1, k, k)``.
        bias (Tensor, optional): ``(C,)``.
        size (int): ``k``, as a Python int (see :func:`depthwise`).

    Returns:
        Tensor: ``(B, C, H, W)``.
    """
    if x.device.type != 'cpu' or not torch.is_grad_enabled() or size < 7:
        return depthwise(x, kernel, bias, size // 2)
    return LargeDepthwise.apply(*_autocast(x, kernel, bias))


def conv_bn(conv: nn.Conv2d, bn: nn.Module, x: Tensor) -> Tensor:
    """``bn(conv(x))``, as one convolution when ``bn`` normalises with running statistics.

    Args:
        conv (nn.Conv2d): The convolution.
        bn (nn.Module): The normalisation after it (folded only for BatchNorm in eval mode).
        x (Tensor): ``(B, C, H, W)``.

    Returns:
        Tensor: ``bn(conv(x))``.
    """
    if (
        not isinstance(bn, _BatchNorm)
        or bn.training
        or not bn.track_running_stats
        or conv.padding_mode != 'zeros'
    ):
        return bn(conv(x))
    mean, var = bn.running_mean, bn.running_var
    assert mean is not None and var is not None  # track_running_stats is on
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = -mean if conv.bias is None else conv.bias - mean
    bias = bias * scale
    if bn.bias is not None:
        bias = bias + bn.bias
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def act_linear(act: nn.Module, linear: nn.Conv2d | nn.Linear, x: Tensor) -> Tensor:
    """``linear(act(x))`` on a temporary channels-last ``x``, memory-lean for the exact GELU.

    Args:
        act (nn.Module): The activation.
        linear (nn.Conv2d | nn.Linear): A Linear layer or a 1 x 1 convolution.
        x (Tensor): ``(..., C_in)``, channels-last.

    Returns:
        Tensor: ``(..., C_out)``.
    """
    weight, bias = linear.weight.flatten(1), linear.bias
    if not _recompute_gelu(act):
        return F.linear(activate(act, x), weight, bias)
    return GeluLinear.apply(*_autocast(x, weight, bias))


def mhmc_interleaved(x: Tensor, s: nn.Linear, convs: nn.ModuleList) -> Tensor:
    """SAM's multi-head mixed convolution of ``s(x)``, heads interleaved channel-wise.

    Plain equivalent: split ``s(x)`` into ``len(convs)`` heads, convolve head ``i`` with
    ``convs[i]`` and stack the heads so that channel ``k * heads + i`` is channel ``k`` of head
    ``i``. Here the rows of ``s`` are reordered so that its output is already interleaved, and
    the per-head kernels, zero-padded to the largest size, form one depthwise convolution.

    Args:
        x (Tensor): ``(B, H, W, C)``.
        s (nn.Linear): The ``s`` projection.
        convs (nn.ModuleList): One depthwise :class:`~torch.nn.Conv2d` per head, kernels
            increasing by 2.

    Returns:
        Tensor: ``(B, C, H, W)`` as a channels-last strided view.
    """
    c, heads = x.shape[-1], len(convs)
    interleave = (heads, c // heads)
    s_weight = s.weight.view(*interleave, c).transpose(0, 1).reshape(c, c)
    s_bias = None if s.bias is None else s.bias.view(interleave).t().reshape(c)
    y = F.linear(x, s_weight, s_bias).permute(0, 3, 1, 2)
    conv_list = cast(list[nn.Conv2d], list(convs))
    max_size = conv_list[-1].kernel_size[0]
    kernel = torch.stack(
        [F.pad(conv.weight, [(max_size - conv.kernel_size[0]) // 2] * 4) for conv in conv_list],
        dim=1,
    ).reshape(c, 1, max_size, max_size)
    bias = torch.stack([cast(Tensor, conv.bias) for conv in conv_list], dim=1).reshape(c)
    return large_depthwise(y, kernel, bias, max_size)


def dwconv_residual_act_linear(
    h: Tensor, dwconv: nn.Conv2d, act: nn.Module, fc: nn.Linear
) -> Tensor:
    """The FFN's ``fc(act(h + dwconv(h)))`` on a channels-last ``h``.

    ``h + dwconv(h)`` is one depthwise convolution whose kernel centre is incremented by 1; for
    the exact GELU with gradients on, :class:`DWConvGeluLinear` keeps only ``h`` for backward.

    Args:
        h (Tensor): ``(B, H, W, C_hidden)``.
        dwconv (nn.Conv2d): The 3 x 3 depthwise convolution.
        act (nn.Module): The activation.
        fc (nn.Linear): The output projection.

    Returns:
        Tensor: ``(B, H, W, C_out)``.
    """
    x = h.permute(0, 3, 1, 2)
    weight, bias = dwconv.weight, dwconv.bias
    kernel = weight + F.pad(torch.ones_like(weight[..., :1, :1]), (1, 1, 1, 1))
    if _recompute_gelu(act):
        return DWConvGeluLinear.apply(*_autocast(x, kernel, bias, fc.weight, fc.bias))
    padding = dwconv.kernel_size[0] // 2
    return fc(activate(act, depthwise(x, kernel, bias, padding).permute(0, 2, 3, 1)))
