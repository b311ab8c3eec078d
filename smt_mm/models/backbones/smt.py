"""Scale-Aware Modulation Transformer (SMT) backbone.

Paper: *Scale-Aware Modulation Meet Transformer*, Lin et al., ICCV 2023,
https://arxiv.org/abs/2307.08579. Official code: https://github.com/AFeng-x/SMT.

One implementation serves classification (mmpretrain), detection (mmdet) and segmentation
(mmseg). It computes the same function as the official classification model and loads its
checkpoints (see :mod:`smt_mm.models.checkpoint`). Deliberate differences
from the official code:

* Two paths compute the same function with the same weights: the plain path
  (``fused=False``) is written with the paper's layers; the fused path (``fused=True``)
  replaces some of them by the faster, memory-lean operations of
  :mod:`smt_mm.models.backbones.smt_ops` (listed below). Each module's ``forward`` shows both.
  The choice is made once, when the model is built (see the ``fused`` argument).
* Inside a stage, activations stay channels-last ``(B, H, W, C)``: Linear layers and
  LayerNorms act on the last dimension and the depthwise convolutions see a channels-last
  strided NCHW view, so no layout copy is made between token and image layouts.
* The global attention of the MSA mixer runs through
  :func:`torch.nn.functional.scaled_dot_product_attention` (fused, memory-efficient
  backward) instead of materialising the attention matrix.
* Fused path: the four per-head depthwise convolutions of SAM run as one depthwise
  convolution with zero-padded 9 x 9 kernels on channels already interleaved by a row
  permutation of the ``s`` projection; ``h + dwconv(h)`` in the FFN is one depthwise
  convolution (kernel centre + 1); BatchNorm in eval mode is folded into the preceding
  convolution (FLOP counters see the 9 x 9 kernels). In training, ``linear(gelu(.))`` and the
  FFN's ``linear(gelu(dwconv(.)))`` keep only their input for the backward pass and recompute
  the cheap elementwise parts (about a third less activation memory).
* The detection and segmentation copies of the official backbone use ``nn.Dropout`` where
  stochastic depth is meant and drop layer scale; here there is one backbone with real
  :class:`~mmcv.cnn.bricks.DropPath` and layer scale for every task.
* Parameter names follow the OpenMMLab layout (``patch_embeds``, ``stages``, ``norms``);
  official checkpoints are converted on the fly when loaded through ``init_cfg``.
"""

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any, cast

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from mmengine.utils import is_seq_of
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..checkpoint import load_backbone_checkpoint
from ..utils.args import check_range
from ..utils.inputs import MIN_INPUT_SIZE, check_input_size, warn_non_finite
from . import smt_ops

ConfigType = dict
OptMultiConfig = dict | list[dict] | None

#: The mixer of each block: stages 1-2 modulate, stage 3 alternates, stage 4 attends.
SAM, MSA = 'sam', 'msa'

#: How SAM's multi-head mixed convolution may run (``SMT(mhmc=...)``): the path's own code,
#: three layout variants of the plain path's (only where it runs), or the Triton kernels.
MHMC_MODES = ('conv', 'conv-nchw', 'conv-stack-last', 'conv-nchw-stack-last', 'triton')
_PLAIN_ONLY_MHMC = ('conv-nchw', 'conv-stack-last', 'conv-nchw-stack-last')
#: The stage widths of SMT-T, SMT-S and SMT-B.
_WIDTHS = (64, 128, 256, 512)


def _mhmc_triton() -> ModuleType:
    """Import :mod:`.mhmc_triton` on first use.

    triton is optional, and the module reads ``TRITON_INTERPRET`` when it is imported.
    """
    from . import mhmc_triton

    return mhmc_triton


def _mixer_type(stage: int, index: int) -> str:
    """Return the token mixer of block ``index`` in ``stage`` (the evolutionary hybrid net)."""
    if stage < 2:
        return SAM
    if stage == 2:
        return SAM if index % 2 == 0 else MSA
    return MSA


class SMTStem(BaseModule):
    """Stage-1 patch embedding: conv k x k / 2, BN, ReLU, conv 2 x 2 / 2, LayerNorm.

    Args:
        in_channels (int): Channels of the input image.
        embed_dims (int): Output channels.
        kernel_size (int): Kernel size of the first convolution (3 or 7 in the official
            variants). Defaults to 3.
        norm_cfg (dict): Config of the normalisation after the first convolution.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        in_channels: int,
        embed_dims: int,
        kernel_size: int = 3,
        norm_cfg: ConfigType = dict(type='BN'),  # noqa: B006
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(
            in_channels, embed_dims, kernel_size, 2, padding=kernel_size // 2, bias=False
        )
        self.bn = build_norm_layer(norm_cfg, embed_dims)[1]
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(embed_dims, embed_dims, 2, 2)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-5)
        self.fused = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed an NCHW image into a channels-last map.

        Args:
            x (torch.Tensor): Images, ``(B, C_in, H, W)``.

        Returns:
            torch.Tensor: Channels-last features ``(B, H / 4, W / 4, C)``.
        """
        x = x.contiguous(memory_format=torch.channels_last)
        if self.fused:  # bn(conv1(x)), with an eval-mode BN folded into conv1
            x = smt_ops.conv_bn(self.conv1, self.bn, x)
        else:
            x = self.bn(self.conv1(x))
        x = self.conv2(self.act(x))
        return self.norm(x.permute(0, 2, 3, 1))


class OverlapPatchEmbed(BaseModule):
    """Stages 2-4 patch embedding: conv 3 x 3 / 2, then LayerNorm.

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Output channels.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(self, in_channels: int, embed_dims: int, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.proj = nn.Conv2d(in_channels, embed_dims, 3, 2, padding=1)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Downsample a channels-last map by 2.

        Args:
            x (torch.Tensor): Channels-last features ``(B, H, W, C_in)``.

        Returns:
            torch.Tensor: Channels-last features ``(B, ceil(H / 2), ceil(W / 2), C)``.
        """
        x = self.proj(x.permute(0, 3, 1, 2))
        return self.norm(x.permute(0, 2, 3, 1))


class DWConvFFN(BaseModule):
    """Feed-forward network with a depthwise 3 x 3 convolution: fc1, GELU(h + dw(h)), fc2.

    Args:
        embed_dims (int): Input and output channels.
        hidden_dims (int): Hidden channels.
        act_cfg (dict): Activation config. Defaults to ``dict(type='GELU')``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        embed_dims: int,
        hidden_dims: int,
        act_cfg: ConfigType = dict(type='GELU'),  # noqa: B006
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.dwconv = nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.fused = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the FFN to a channels-last map ``(B, H, W, C)``; same shape out."""
        h = self.fc1(x)
        if self.fused:  # the lines below as one convolution, hidden maps recomputed in backward
            return smt_ops.dwconv_residual_act_linear(h, self.dwconv, self.act, self.fc2)
        h = h.permute(0, 3, 1, 2)
        h = h + self.dwconv(h)
        return self.fc2(self.act(h.permute(0, 2, 3, 1)))


class ScaleAwareModulation(BaseModule):
    """Scale-aware modulation (SAM): multi-head mixed convolution plus scale-aware aggregation.

    ``s = Linear(x)`` is split into ``num_heads`` channel groups; group ``i`` gets a depthwise
    convolution of kernel ``3 + 2i`` (MHMC). The heads are interleaved channel-wise (channel
    ``k`` of every head side by side) and mixed by a grouped 1 x 1 convolution that expands to
    ``expand_ratio * C``, BN, GELU and a 1 x 1 convolution back to ``C`` (SAA). The result
    modulates ``v = Linear(x)``, followed by a Linear projection.

    Args:
        embed_dims (int): Channels.
        num_heads (int): Heads of the multi-head mixed convolution. Defaults to 4.
        expand_ratio (int): Expansion of the aggregation. Defaults to 2.
        qkv_bias (bool): Bias in the ``v`` and ``s`` projections. Defaults to True.
        norm_cfg (dict): Normalisation inside the aggregation. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict): Activation inside the aggregation. Defaults to ``dict(type='GELU')``.
        mhmc (str): How the multi-head mixed convolution runs, one of :data:`MHMC_MODES`
            (see :class:`SMT`). Defaults to ``'conv'``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int = 4,
        expand_ratio: int = 2,
        qkv_bias: bool = True,
        norm_cfg: ConfigType = dict(type='BN'),  # noqa: B006
        act_cfg: ConfigType = dict(type='GELU'),  # noqa: B006
        mhmc: str = 'conv',
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_heads = num_heads
        self.mhmc = mhmc
        head_dims = embed_dims // num_heads
        self.v = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.s = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.local_convs = nn.ModuleList(
            nn.Conv2d(head_dims, head_dims, 3 + 2 * i, padding=1 + i, groups=head_dims)
            for i in range(num_heads)
        )
        self.proj0 = nn.Conv2d(embed_dims, embed_dims * expand_ratio, 1, groups=head_dims)
        self.bn = build_norm_layer(norm_cfg, embed_dims * expand_ratio)[1]
        self.act = build_activation_layer(act_cfg)
        self.proj1 = nn.Conv2d(embed_dims * expand_ratio, embed_dims, 1)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.fused = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Modulate a channels-last map ``(B, H, W, C)``; same shape out."""
        v = self.v(x)
        if self.mhmc == 'triton':  # MHMC as Triton kernels, output interleaved, either path
            s = _mhmc_triton().multi_head_mixed_conv(self.s(x), self.local_convs)
        elif self.fused:  # MHMC as one 9 x 9 conv of rows of s already interleaved
            s = smt_ops.mhmc_interleaved(x, self.s, self.local_convs)
        else:
            s = self._mixed_conv(self.s(x))
        if self.fused:  # the plain lines below as a folded BN and a lean GELU
            s = smt_ops.conv_bn(self.proj0, self.bn, s).permute(0, 2, 3, 1)
            s = smt_ops.act_linear(self.act, self.proj1, s)
            return self.proj(s * v)
        # SAA: grouped 1 x 1 conv (one group per interleaved channel set), BN, act, 1 x 1 conv.
        s = self.proj1(self.act(self.bn(self.proj0(s))))
        return self.proj(s.permute(0, 2, 3, 1) * v)

    def _mixed_conv(self, s: torch.Tensor) -> torch.Tensor:
        """Plain MHMC of a channels-last ``s`` ``(B, H, W, C)``: an NCHW map, heads interleaved."""
        # MHMC: head i of s gets a depthwise conv of kernel 3 + 2i ...
        heads = s.permute(0, 3, 1, 2).chunk(self.num_heads, dim=1)
        if 'nchw' in self.mhmc:  # a dense NCHW head, not a channels-last strided view
            heads = tuple(head.contiguous() for head in heads)
        per_head = [conv(head) for conv, head in zip(self.local_convs, heads, strict=True)]
        # ... and the heads are interleaved: channel k * num_heads + i is channel k of head i.
        if 'stack-last' in self.mhmc:  # one copy, and the map stays channels-last
            per_head = [head.permute(0, 2, 3, 1) for head in per_head]
            return torch.stack(per_head, dim=-1).flatten(3).permute(0, 3, 1, 2)
        return torch.stack(per_head, dim=2).flatten(1, 2)


class GlobalAttention(BaseModule):
    """Multi-head self-attention over all tokens, plus a depthwise 3 x 3 conv on ``v`` (MSA).

    Args:
        embed_dims (int): Channels.
        num_heads (int): Attention heads.
        qkv_bias (bool): Bias in the ``q`` and ``kv`` projections. Defaults to True.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        qkv_bias: bool = True,
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_heads = num_heads
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.local_conv = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over a channels-last map ``(B, H, W, C)``; same shape out."""
        b, h, w, c = x.shape
        heads = self.num_heads
        q = self.q(x).view(b, h * w, heads, c // heads).transpose(1, 2)
        kv = self.kv(x)
        k, v = kv.view(b, h * w, 2, heads, c // heads).unbind(2)
        out = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(b, h, w, c)
        local = self.local_conv(kv[..., c:].permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.proj(out + local)


class SMTBlock(BaseModule):
    """SMT block: ``x + DropPath(g1 * Mixer(LN(x)))``, then ``x + DropPath(g2 * FFN(LN(x)))``.

    Args:
        embed_dims (int): Channels.
        mixer (str): ``'sam'`` (scale-aware modulation) or ``'msa'`` (global attention).
        mlp_ratio (float): Hidden channels of the FFN relative to ``embed_dims``.
        ca_num_heads (int): Heads of the SAM mixer. Defaults to 4.
        sa_num_heads (int, optional): Heads of the MSA mixer. Defaults to None.
        expand_ratio (int): Expansion of the SAM aggregation. Defaults to 2.
        qkv_bias (bool): Bias in the mixer's input projections. Defaults to True.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        use_layerscale (bool): Scale both branches by learnable vectors. Defaults to False.
        layer_scale_init_value (float): Initial value of the layer scale. Defaults to 1e-4.
        norm_cfg (dict): Normalisation inside the SAM mixer. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation of the mixer and FFN. Defaults to ``dict(type='GELU')``.
        with_cp (bool): Use gradient checkpointing. Defaults to False.
        mhmc (str): How the SAM mixer's multi-head mixed convolution runs (see :class:`SMT`).
            Defaults to ``'conv'``.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.
    """

    def __init__(
        self,
        embed_dims: int,
        mixer: str,
        mlp_ratio: float,
        ca_num_heads: int = 4,
        sa_num_heads: int | None = None,
        expand_ratio: int = 2,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        use_layerscale: bool = False,
        layer_scale_init_value: float = 1e-4,
        norm_cfg: ConfigType = dict(type='BN'),  # noqa: B006
        act_cfg: ConfigType = dict(type='GELU'),  # noqa: B006
        with_cp: bool = False,
        mhmc: str = 'conv',
        init_cfg: OptMultiConfig = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        if mixer == SAM:
            self.attn = ScaleAwareModulation(
                embed_dims, ca_num_heads, expand_ratio, qkv_bias, norm_cfg, act_cfg, mhmc
            )
        else:
            if sa_num_heads is None:
                raise ValueError('an MSA block needs sa_num_heads')
            self.attn = GlobalAttention(embed_dims, sa_num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = DWConvFFN(embed_dims, int(embed_dims * mlp_ratio), act_cfg)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.gamma1: nn.Parameter | None
        self.gamma2: nn.Parameter | None
        if use_layerscale:
            self.gamma1 = nn.Parameter(torch.full((embed_dims,), layer_scale_init_value))
            self.gamma2 = nn.Parameter(torch.full((embed_dims,), layer_scale_init_value))
        else:
            self.gamma1 = self.gamma2 = None

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.norm1(x))
        x = x + self.drop_path(y if self.gamma1 is None else self.gamma1 * y)
        y = self.ffn(self.norm2(x))
        return x + self.drop_path(y if self.gamma2 is None else self.gamma2 * y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to a channels-last map ``(B, H, W, C)``; same shape out."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._forward, x, use_reentrant=False)
        return self._forward(x)


@MODELS.register_module()
class SMT(BaseModule):
    """Scale-Aware Modulation Transformer backbone.

    A PyTorch implementation of `Scale-Aware Modulation Meet Transformer
    <https://arxiv.org/abs/2307.08579>`_ (ICCV 2023). Registered in mmengine's root ``MODELS``
    registry, so ``dict(type='SMT')`` builds in mmdet, mmseg and mmpretrain configs.

    Stages 1-2 use scale-aware modulation (SAM) in every block, stage 3 alternates SAM (even
    blocks) and global multi-head self-attention (MSA, odd blocks), stage 4 uses MSA only.
    Every stage ends with a LayerNorm whose output is both the stage output and the input of
    the next stage.

    Args:
        arch (str | dict): SMT architecture. A name in :attr:`arch_zoo` (``'tiny'``,
            ``'small'``, ``'base'``, ``'large'`` or their first letters) or a dict with keys
            ``embed_dims``, ``depths``, ``mlp_ratios`` (4 values each) and ``head_conv`` (the
            stem kernel size), and optionally ``ca_num_heads`` (int, default 4),
            ``sa_num_heads`` (heads of the MSA in stages 3 and 4, default ``(8, 16)``),
            ``expand_ratio`` (default 2) and ``use_layerscale`` (default False).
            Defaults to ``'tiny'``.
        in_channels (int): Channels of the input images. Defaults to 3.
        out_indices (int | Sequence[int]): Stages whose (normalised) output is returned;
            negative values count from the end. Defaults to ``(0, 1, 2, 3)``.
        drop_path_rate (float): Stochastic depth rate, increased linearly over the blocks;
            in [0, 1). Defaults to 0.
        use_layerscale (bool, optional): Scale each residual branch by a learnable vector.
            None uses the arch default (on for ``'large'``, as in every official SMT-L
            config). Defaults to None.
        layer_scale_init_value (float): Initial value of the layer scale. Defaults to 1e-4.
        frozen_stages (int): Stages to freeze (patch embedding, blocks and output norm; no
            gradients, eval mode); -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep the BatchNorm layers in eval mode during training (frozen
            statistics). Defaults to False.
        with_cp (bool): Gradient checkpointing of every block: saves memory, costs time.
            Defaults to False.
        out_type (str): ``'featmap'`` returns NCHW maps ``(B, C, H, W)``; ``'avg_featmap'``
            returns the token mean ``(B, C)`` of each selected normed stage output (for index
            3 the input of the official classification head). Defaults to ``'featmap'``.
        norm_cfg (dict): Config of the BatchNorm layers (stem and SAM aggregation). Defaults
            to ``dict(type='BN')``.
        act_cfg (dict): Activation of the mixers and FFNs. Defaults to
            ``dict(type='GELU')``.
        fused (bool | str): Run the fused, memory-lean operations of :mod:`.smt_ops` (True)
            or the plain PyTorch layers that read like the paper (False). Both compute the
            same function with the same weights. ``'auto'`` is resolved once, here, by
            :meth:`resolve_fused`: plain when a CUDA GPU is available (on an H100 the plain
            path is 1.1-1.6x faster; the fused one needs 30-40% less training memory: set
            True when memory is short), fused otherwise (faster on CPU). Moving the model
            (``.to()``, ``.cuda()``) never changes the path; the :attr:`fused` attribute
            shows it and switches a built model. Use False where a fused operation
            misbehaves (e.g. TorchScript-based ONNX export). Defaults to ``'auto'``.
        check_finite (bool): Warn in every forward when the input holds NaN or infinite
            values. The scan reads a result back to Python, a host-device synchronisation
            on a GPU, so it is off by default: call :func:`smt_mm.models.utils.check_input`
            once where data enters instead. Defaults to False.
        mhmc (str): How SAM's multi-head mixed convolution (MHMC) runs; the same function
            and weights every way, chosen when the model is built. ``'conv'``: the path's own
            (plain: a depthwise conv per head, on channels-last strided views, interleaved
            by stacking on the channel dimension; fused: one 9 x 9 conv). Variants of the
            plain path, to be measured on CUDA (``fused=False`` only): ``'conv-nchw'`` copies
            each head to a dense NCHW map before its conv (PyTorch's native depthwise kernel
            instead of cuDNN's channels-last one); ``'conv-stack-last'`` interleaves by
            stacking on the last dimension of the channels-last heads (one copy instead of
            two, the map stays channels-last); ``'conv-nchw-stack-last'`` does both.
            ``'triton'``: the kernels of :mod:`.mhmc_triton` on either path (CUDA tensors;
            needs triton). None of them is chosen automatically. Defaults to ``'conv'``.
        init_cfg (dict | list[dict], optional): Initialisation config. The default applies
            the official rules (truncated normal std 0.02 for Linear, ones/zeros for
            LayerNorm, and :meth:`init_weights` adds normal(0, sqrt(2 / fan_out)) for Conv2d).
            ``dict(type='Pretrained', checkpoint=PATH, prefix=None)`` loads an official SMT
            release file or a converted one strictly; use ``prefix='backbone.'`` for an mmdet /
            mmseg / mmpretrain checkpoint. Defaults to None.

    Example:
        >>> import torch
        >>> from smt_mm.models.backbones import SMT
        >>> model = SMT(arch='tiny').eval()
        >>> outs = model(torch.rand(1, 3, 64, 64))
        >>> [tuple(o.shape) for o in outs]
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
    """

    #: The named sizes, each also under its first letter (``'t'`` is ``'tiny'``). ``head_conv``
    #: is the kernel size of the stem's first convolution; keys left out take
    #: :attr:`_arch_defaults`.
    arch_zoo: dict[str, dict[str, Any]] = {
        'tiny': dict(embed_dims=_WIDTHS, depths=(2, 2, 8, 1), mlp_ratios=(4, 4, 4, 2), head_conv=3),
        'small': dict(
            embed_dims=_WIDTHS, depths=(3, 4, 18, 2), mlp_ratios=(4, 4, 4, 2), head_conv=3
        ),
        'base': dict(
            embed_dims=_WIDTHS, depths=(4, 6, 28, 2), mlp_ratios=(8, 6, 4, 2), head_conv=7
        ),
        'large': dict(
            embed_dims=(96, 192, 384, 768),
            depths=(4, 6, 28, 4),
            mlp_ratios=(8, 6, 4, 2),
            head_conv=7,
            use_layerscale=True,
        ),
    }
    arch_zoo |= {name[0]: settings for name, settings in list(arch_zoo.items())}
    _required_keys = ('embed_dims', 'depths', 'mlp_ratios', 'head_conv')
    _arch_defaults = {
        'ca_num_heads': 4,
        'sa_num_heads': (8, 16),
        'expand_ratio': 2,
        'use_layerscale': False,
    }
    num_stages = 4

    def __init__(
        self,
        arch: str | dict = 'tiny',
        in_channels: int = 3,
        out_indices: int | Sequence[int] = (0, 1, 2, 3),
        drop_path_rate: float = 0.0,
        use_layerscale: bool | None = None,
        layer_scale_init_value: float = 1e-4,
        frozen_stages: int = -1,
        norm_eval: bool = False,
        with_cp: bool = False,
        out_type: str = 'featmap',
        norm_cfg: ConfigType = dict(type='BN'),  # noqa: B006
        act_cfg: ConfigType = dict(type='GELU'),  # noqa: B006
        fused: bool | str = 'auto',
        check_finite: bool = False,
        mhmc: str = 'conv',
        init_cfg: OptMultiConfig = None,
    ) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0),
                dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0),
            ]
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self.parse_arch(arch)
        settings = self.arch_settings
        self.embed_dims = tuple(settings['embed_dims'])
        self.depths = tuple(settings['depths'])
        if use_layerscale is None:
            use_layerscale = bool(settings['use_layerscale'])
        self.use_layerscale = use_layerscale
        check_range('in_channels', in_channels, 1)
        check_range('drop_path_rate', drop_path_rate, 0, 1)
        if use_layerscale:
            check_range('layer_scale_init_value', layer_scale_init_value, 0, low_inclusive=False)

        if out_type not in ('featmap', 'avg_featmap'):
            raise ValueError(
                f"Unsupported out_type {out_type!r}; choose 'featmap' or 'avg_featmap'."
            )
        self.out_type = out_type
        self.out_indices = self._parse_out_indices(out_indices)
        if not -1 <= frozen_stages < self.num_stages:
            raise ValueError(
                f'frozen_stages must be in [-1, {self.num_stages - 1}], got {frozen_stages}.'
            )
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.check_finite = check_finite
        if mhmc not in MHMC_MODES:
            raise ValueError(f'Unknown mhmc {mhmc!r}; choose one of {list(MHMC_MODES)}.')
        if mhmc == 'triton':
            try:
                _mhmc_triton()
            except ImportError as error:
                raise ImportError(
                    f"SMT(mhmc='triton') needs triton >= 3.0 (shipped with CUDA builds of "
                    f"torch): {error}; use mhmc='conv'."
                ) from error
        self.mhmc = mhmc

        dpr = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        self.patch_embeds = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.norms = nn.ModuleList()
        block_index = 0
        for i, (dims, depth) in enumerate(zip(self.embed_dims, self.depths, strict=False)):
            if i == 0:
                embed = SMTStem(in_channels, dims, settings['head_conv'], norm_cfg)
            else:
                embed = OverlapPatchEmbed(self.embed_dims[i - 1], dims)
            sa_heads = settings['sa_num_heads'][i - 2] if i >= 2 else None
            blocks = nn.ModuleList(
                SMTBlock(
                    dims,
                    _mixer_type(i, j),
                    settings['mlp_ratios'][i],
                    ca_num_heads=settings['ca_num_heads'],
                    sa_num_heads=sa_heads,
                    expand_ratio=settings['expand_ratio'],
                    drop_path_rate=dpr[block_index + j],
                    use_layerscale=use_layerscale,
                    layer_scale_init_value=layer_scale_init_value,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    with_cp=with_cp,
                    mhmc=mhmc,
                )
                for j in range(depth)
            )
            block_index += depth
            self.patch_embeds.append(embed)
            self.stages.append(blocks)
            self.norms.append(nn.LayerNorm(dims, eps=1e-6))

        self.fused = fused
        self._freeze_stages()

    @property
    def fused(self) -> bool | str:  # always a bool; the setter also takes 'auto'
        """Whether the fused operations of :mod:`.smt_ops` run (True) or plain PyTorch (False).

        Set it to True, False or ``'auto'`` (resolved at once by :meth:`resolve_fused`) to
        switch every module of a built model; :attr:`fused_mode` keeps what was asked. Only
        setting it changes the path. Outputs and gradients agree to float rounding either way.
        """
        return self._fused

    @fused.setter
    def fused(self, value: bool | str) -> None:
        """Switch the model and all its modules to the fused or plain path."""
        resolved = self.resolve_fused(value)
        if resolved and self.mhmc in _PLAIN_ONLY_MHMC:
            raise ValueError(
                f'mhmc={self.mhmc!r} changes the plain path, which fused={value!r} does not run '
                f"here: set fused=False, or mhmc='conv'."
            )
        self.fused_mode = value
        self._fused = resolved
        for module in self.modules():
            if module is not self and hasattr(module, 'fused'):
                module.fused = resolved

    @staticmethod
    def resolve_fused(value: bool | str) -> bool:
        """Resolve a ``fused`` argument: ``'auto'`` is plain where CUDA is available.

        Args:
            value (bool | str): True, False or ``'auto'``.

        Returns:
            bool: ``value`` itself for a bool; for ``'auto'``, False when a CUDA GPU is
            available (the plain path is faster there), True otherwise (faster on CPU).

        Raises:
            TypeError: If ``value`` is neither a bool nor ``'auto'``.
        """
        if isinstance(value, bool):
            return value
        if value != 'auto':
            raise TypeError(f"fused must be True, False or 'auto', got {value!r}.")
        return not torch.cuda.is_available()

    def extra_repr(self) -> str:
        """Show the path in ``print(model)``, and how it was chosen."""
        how = " (from 'auto')" if self.fused_mode == 'auto' else ''
        mhmc = '' if self.mhmc == 'conv' else f', mhmc={self.mhmc!r}'
        return f'fused={self.fused}{how}{mhmc}, out_indices={self.out_indices}'

    @classmethod
    def parse_arch(cls, arch: str | dict) -> dict:
        """Resolve an ``arch`` argument into its full settings, checked.

        Args:
            arch (str | dict): A name or alias of :attr:`arch_zoo`, or a dict with the keys
                of an ``arch_zoo`` row (the optional ones take their defaults).

        Returns:
            dict: Every setting of the arch.

        Raises:
            ValueError: If the name is unknown or the dict misses or adds keys.
            TypeError: If ``arch`` is neither a str nor a dict.
        """
        if isinstance(arch, str):
            name = arch.lower()
            if name not in cls.arch_zoo:
                raise ValueError(
                    f'Unknown SMT arch {arch!r}; choose one of {sorted(set(cls.arch_zoo))} or '
                    f'pass a dict with the keys {list(cls._required_keys)}.'
                )
            settings = {**cls._arch_defaults, **cls.arch_zoo[name]}
        elif isinstance(arch, dict):
            missing = [key for key in cls._required_keys if key not in arch]
            if missing:
                raise ValueError(
                    f'The SMT arch dict misses the keys {missing}; it needs '
                    f'{list(cls._required_keys)} (optional: {list(cls._arch_defaults)}).'
                )
            unknown = sorted(set(arch) - set(cls._required_keys) - set(cls._arch_defaults))
            if unknown:
                raise ValueError(
                    f'Unknown keys {unknown} in the SMT arch dict; allowed: '
                    f'{list(cls._required_keys) + list(cls._arch_defaults)}.'
                )
            settings = {**cls._arch_defaults, **arch}
        else:
            raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}.')
        cls._check_arch(settings)
        return settings

    @classmethod
    def _check_arch(cls, settings: dict) -> None:
        for key in ('embed_dims', 'depths', 'mlp_ratios'):
            if len(settings[key]) != cls.num_stages:
                raise ValueError(
                    f'arch[{key!r}] needs {cls.num_stages} values (one per stage), got '
                    f'{settings[key]!r}.'
                )
        for key in (
            'embed_dims',
            'depths',
            'head_conv',
            'ca_num_heads',
            'sa_num_heads',
            'expand_ratio',
        ):
            check_range(f'arch[{key!r}]', settings[key], 1)
        check_range("arch['mlp_ratios']", settings['mlp_ratios'], 0, low_inclusive=False)
        if settings['head_conv'] % 2 != 1:
            raise ValueError(f"arch['head_conv'] must be odd, got {settings['head_conv']}.")
        sa_heads = settings['sa_num_heads']
        if len(sa_heads) != 2:
            raise ValueError(
                f"arch['sa_num_heads'] gives the MSA heads of stages 3 and 4 (2 values), "
                f'got {sa_heads!r}.'
            )
        ca_heads = settings['ca_num_heads']
        dims = settings['embed_dims']
        for i, d in enumerate(dims):
            if i < 3 and d % ca_heads:
                raise ValueError(
                    f'embed_dims[{i}]={d} of a scale-aware modulation stage must be divisible '
                    f'by ca_num_heads={ca_heads}.'
                )
            if i >= 2 and d % sa_heads[i - 2]:
                raise ValueError(
                    f'embed_dims[{i}]={d} of an attention stage must be divisible by its '
                    f'sa_num_heads={sa_heads[i - 2]}.'
                )

    def _parse_out_indices(self, out_indices: int | Sequence[int]) -> tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        if not is_seq_of(out_indices, int) or len(out_indices) == 0:
            raise TypeError(
                f'out_indices must be an int or a non-empty sequence of ints, got {out_indices!r}.'
            )
        parsed = []
        for index in out_indices:
            if not -self.num_stages <= index < self.num_stages:
                raise ValueError(
                    f'out_indices entry {index} is out of range for {self.num_stages} stages.'
                )
            parsed.append(index % self.num_stages)
        return tuple(parsed)

    def init_weights(self) -> None:
        """Initialise the weights, or load a checkpoint for a ``Pretrained`` ``init_cfg``.

        The official Conv2d rule, normal(0, sqrt(2 / fan_out)) with
        ``fan_out = k * k * out_channels / groups`` and zero bias, is applied before
        ``init_cfg``'s rules (Linear and LayerNorm), which mmengine's initialisers express.
        A ``Pretrained`` file is loaded strictly by
        :func:`~smt_mm.models.checkpoint.load_backbone_checkpoint` (official files converted).
        """
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            load_backbone_checkpoint(self, self.init_cfg['checkpoint'], self.init_cfg.get('prefix'))
            self._is_init = True
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        super().init_weights()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            for module in (self.patch_embeds[i], self.stages[i], self.norms[i]):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'SMT':
        """Set the training mode, keeping frozen stages and (with ``norm_eval``) BN in eval.

        Args:
            mode (bool): Training mode. Defaults to True.

        Returns:
            SMT: The module itself.
        """
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    #: The smallest image side (see :data:`smt_mm.models.utils.MIN_INPUT_SIZE`).
    min_input_size = MIN_INPUT_SIZE

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Compute the selected stage outputs.

        Args:
            x (torch.Tensor): Images ``(B, C_in, H, W)``; any H and W of at least
                :attr:`min_input_size` (the strided convs round up: stage ``i`` has
                ``ceil``-like sizes H / 2^(i+2)). NaN or infinite values spread through every
                layer and empty the predictions; they are warned about with
                ``check_finite=True`` (or by :func:`smt_mm.models.utils.check_input`).

        Returns:
            tuple[torch.Tensor]: One tensor per ``out_indices`` entry: ``(B, C_i, H_i, W_i)``
            for ``'featmap'`` or ``(B, C_i)`` for ``'avg_featmap'``.

        Raises:
            ValueError: If H or W is smaller than :attr:`min_input_size`.
        """
        check_input_size(x, self.min_input_size)  # shapes only: no device synchronisation
        if self.check_finite:
            warn_non_finite(x)
        outs = {}
        for i in range(self.num_stages):
            x = self.patch_embeds[i](x)
            for block in cast(nn.ModuleList, self.stages[i]):
                x = block(x)
            x = self.norms[i](x)
            if i in self.out_indices:
                if self.out_type == 'avg_featmap':
                    outs[i] = x.mean(dim=(1, 2))
                else:
                    outs[i] = x.permute(0, 3, 1, 2).contiguous()
        return tuple(outs[i] for i in self.out_indices)
