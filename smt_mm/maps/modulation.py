"""What an SMT backbone computes inside: SAM modulators, per-head MHMC responses, MSA attention.

:class:`ModulationRecorder` attaches forward hooks to the blocks it is asked about and removes
them on exit: the model's forward is unchanged and costs nothing more when no recorder is open.
It works on both paths of :class:`~smt_mm.models.backbones.SMT` (``fused`` True or False): a
SAM block's input is replayed through the block's own plain layers (``fused=False``) to read
the modulator and the per-head responses, which the fused path never materialises, and an MSA
block's attention row of one query is computed from the block's input with its own ``q`` and
``kv`` projections (the model's attention runs fused, without an attention matrix).

Blocks are named ``'I.J'``: block ``J`` of stage ``I``, both counted from 0 as in the module
names (``backbone.stages[I][J]``); ``J`` may be negative. Maps are ``(B, h, w)`` tensors:

* ``modulator``: the SAM modulator (the SAA output that multiplies ``v``), averaged over
  channels (signed: it scales ``v`` up or down);
* ``head k (NxN)``: the response of MHMC head ``k`` (depthwise kernel ``N = 3 + 2k``), mean
  absolute value over its channels (the signs of its channels are arbitrary);
* ``attention``: the attention weights of the query token over all tokens, averaged over the
  heads, or one map per head.
"""

import os
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from ..models.backbones.smt import SMT, GlobalAttention, ScaleAwareModulation

#: Pass for an argument to get the default block(s).
AUTO = 'auto'


def find_smt(model: nn.Module) -> SMT:
    """Return the SMT backbone of an mmpretrain / mmdet / mmseg model, or the model itself.

    Raises:
        TypeError: If neither ``model`` nor ``model.backbone`` is an :class:`SMT`.
    """
    backbone = model if isinstance(model, SMT) else getattr(model, 'backbone', None)
    if not isinstance(backbone, SMT):
        raise TypeError(
            f'{type(model).__name__} has no SMT backbone (model.backbone is '
            f'{type(backbone).__name__}); modulation maps exist only for SMT models.'
        )
    return backbone


def _stages(backbone: SMT) -> list[list[Any]]:
    return [list(cast(nn.ModuleList, stage)) for stage in backbone.stages]


def blocks_of(backbone: SMT, mixer: type) -> list[str]:
    """The names ``'I.J'`` of every block whose token mixer is a ``mixer`` instance."""
    return [
        f'{i}.{j}'
        for i, stage in enumerate(_stages(backbone))
        for j, block in enumerate(stage)
        if isinstance(block.attn, mixer)
    ]


def default_blocks(backbone: SMT) -> dict[str, Any]:
    """The blocks drawn unless told otherwise.

    Returns:
        dict: ``modulators``: the last SAM block of each stage that has one (stages 1-3 of the
        paper); ``heads``: the last SAM block of the first stage; ``attention``: the first MSA
        block (stage 3), or None.
    """
    sam = blocks_of(backbone, ScaleAwareModulation)
    last = {name.split('.')[0]: name for name in sam}
    msa = blocks_of(backbone, GlobalAttention)
    return dict(modulators=list(last.values()), heads=last['0'], attention=msa[0] if msa else None)


def resolve_block(backbone: SMT, name: str, mixer: type) -> tuple[str, nn.Module]:
    """Check a block name and return its canonical form and the block's token mixer.

    Raises:
        ValueError: If the name is malformed, out of range, or the block has another mixer;
            the message lists the valid names.
    """
    stages = _stages(backbone)
    try:
        i, j = (int(part) for part in name.split('.'))
        block = stages[i][j]
    except (ValueError, IndexError):
        block = None
    if block is None or not isinstance(block.attn, mixer):
        kind = 'SAM' if mixer is ScaleAwareModulation else 'MSA'
        raise ValueError(
            f'{name!r} is not a {kind} block of this SMT; blocks are named STAGE.BLOCK counting '
            f'from 0, the {kind} blocks are: {" ".join(blocks_of(backbone, mixer))}'
        )
    return f'{i}.{j % len(stages[i])}', cast(nn.Module, block.attn)


def _replay_plain(sam: ScaleAwareModulation, x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """The modulator and per-head responses of ``sam`` on input ``x``, from its plain forward.

    The block's buffers (BatchNorm statistics in training mode) are restored afterwards.
    """
    heads: list[Tensor] = []
    modulator: list[Tensor] = []
    handles = [
        conv.register_forward_hook(lambda m, a, out: heads.append(out)) for conv in sam.local_convs
    ]
    handles.append(sam.proj1.register_forward_hook(lambda m, a, out: modulator.append(out)))
    buffers = {name: b.clone() for name, b in sam.named_buffers()}
    fused = sam.fused
    sam.fused = False
    try:
        with torch.no_grad():
            sam.forward(x)  # not sam(x): the recorder's own hook on sam must not fire again
    finally:
        sam.fused = fused
        for handle in handles:
            handle.remove()
        with torch.no_grad():
            for name, b in sam.named_buffers():
                b.copy_(buffers[name])
    return modulator[0], heads


def attention_row(attn: GlobalAttention, x: Tensor, query: tuple[float, float]) -> Tensor:
    """Attention weights of one query token over all tokens, per head.

    Args:
        attn (GlobalAttention): The MSA mixer.
        x (Tensor): Its channels-last input ``(B, H, W, C)``.
        query (tuple[float, float]): The query as fractions ``(y, x)`` of the map, in [0, 1].

    Returns:
        Tensor: ``(B, heads, H, W)``, each map summing to 1.
    """
    b, h, w, c = x.shape
    heads = attn.num_heads
    qy, qx = (min(int(f * n), n - 1) for f, n in zip(query, (h, w), strict=True))
    with torch.no_grad():
        q = attn.q(x[:, qy, qx]).view(b, heads, c // heads)
        k = attn.kv(x)[..., :c].reshape(b, h * w, heads, c // heads)
        logits = torch.einsum('bnd,bmnd->bnm', q, k) * (c // heads) ** -0.5
    return logits.softmax(-1).view(b, heads, h, w)


class ModulationRecorder:
    """Record modulation, per-head and attention maps of an SMT model while it runs.

    Use it as a context manager around any forward pass of the model (``model.backbone(x)``,
    ``inference_detector(model, img)`` ...); :attr:`maps` then holds one ``(B, h, w)`` tensor
    per label, in the order the blocks run.

    Args:
        model (nn.Module): An SMT backbone or a model whose ``backbone`` is one.
        modulators (Sequence[str] | str | None): SAM blocks whose modulator to record;
            ``'auto'``: the last SAM block of every SAM stage; None: none. Defaults to 'auto'.
        heads (str, optional): The SAM block whose MHMC heads to record; ``'auto'``: the
            last SAM block of stage 0; None: none. Defaults to 'auto'.
        attention (str, optional): The MSA block whose attention to record; ``'auto'``: the
            first MSA block; None: none. Defaults to 'auto'.
        query (tuple[float, float]): The attention query as fractions ``(y, x)`` of the map.
            Defaults to the centre ``(0.5, 0.5)``.
        attention_per_head (bool): One attention map per head instead of their mean.
            Defaults to False.

    Example:
        >>> model = SMT('tiny').eval()
        >>> with ModulationRecorder(model) as recorder:
        ...     model(torch.rand(1, 3, 64, 96))
        >>> {k: tuple(v.shape) for k, v in recorder.maps.items()}['block 0.1 modulator']
        (1, 16, 24)
    """

    def __init__(
        self,
        model: nn.Module,
        modulators: Sequence[str] | str | None = AUTO,
        heads: str | None = AUTO,
        attention: str | None = AUTO,
        query: tuple[float, float] = (0.5, 0.5),
        attention_per_head: bool = False,
    ) -> None:
        backbone = find_smt(model)
        defaults = default_blocks(backbone)
        if modulators == AUTO:
            modulators = defaults['modulators']
        elif isinstance(modulators, str):
            modulators = [modulators]
        self.modulators = [
            resolve_block(backbone, n, ScaleAwareModulation) for n in modulators or ()
        ]
        self.heads = (
            None
            if heads is None
            else resolve_block(
                backbone, defaults['heads'] if heads == AUTO else heads, ScaleAwareModulation
            )
        )
        if attention == AUTO:
            attention = defaults['attention']
        self.attention = (
            None if attention is None else resolve_block(backbone, attention, GlobalAttention)
        )
        if not all(0.0 <= f <= 1.0 for f in query):
            raise ValueError(f'query must be fractions (y, x) of the map in [0, 1], got {query}')
        self.query = query
        self.attention_per_head = attention_per_head
        self.maps: dict[str, Tensor] = {}
        self._handles: list[Any] = []

    def _record_sam(self, name: str, modulator: bool, heads: bool) -> Any:
        def hook(sam: ScaleAwareModulation, args: tuple, output: Tensor) -> None:
            s, per_head = _replay_plain(sam, args[0])
            if modulator:
                self.maps[f'block {name} modulator'] = s.mean(1).float().cpu()
            if heads:
                for k, response in enumerate(per_head):
                    size = cast(nn.Conv2d, sam.local_convs[k]).kernel_size[0]
                    label = f'block {name} head {k} ({size}x{size})'
                    self.maps[label] = response.abs().mean(1).float().cpu()

        return hook

    def _record_attention(self, name: str) -> Any:
        def hook(attn: GlobalAttention, args: tuple, output: Tensor) -> None:
            row = attention_row(attn, args[0], self.query).float().cpu()
            if self.attention_per_head:
                for k in range(row.shape[1]):
                    self.maps[f'block {name} attention head {k}'] = row[:, k]
            else:
                self.maps[f'block {name} attention'] = row.mean(1)

        return hook

    def __enter__(self) -> 'ModulationRecorder':
        """Attach the hooks and clear :attr:`maps`."""
        self.maps.clear()
        modulators = dict(self.modulators)
        heads = dict([self.heads] if self.heads else [])
        for name, sam in (modulators | heads).items():
            hook = self._record_sam(name, name in modulators, name in heads)
            self._handles.append(sam.register_forward_hook(hook))
        if self.attention is not None:
            name, attn = self.attention
            self._handles.append(attn.register_forward_hook(self._record_attention(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        """Remove the hooks; :attr:`maps` stays."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def draw_modulation(
    model: nn.Module,
    image_files: Sequence[str],
    out_file: str,
    size: tuple[int, int] | None = None,
    query: tuple[int, int] | None = None,
    heading: str | None = None,
    **recorder_options: Any,
) -> str:
    """Record the maps of each image with :class:`ModulationRecorder` and draw them in a grid.

    Args:
        model (nn.Module): An SMT model built by :func:`~smt_mm.apis.build_model`.
        image_files (Sequence[str]): The images, one row each.
        out_file (str): The PNG to write.
        size (tuple[int, int], optional): Resize the images to ``(height, width)``; None keeps
            their sizes. Defaults to None.
        query (tuple[int, int], optional): The attention query ``(y, x)`` in pixels of the
            (resized) image; None: its centre. Defaults to None.
        heading (str, optional): The picture's title, e.g. the model and where its weights
            come from. Defaults to None.
        **recorder_options: ``modulators``, ``heads``, ``attention``, ``attention_per_head``
            of :class:`ModulationRecorder`.

    Returns:
        str: ``out_file``.
    """
    from ..visualization.images import prepare_image
    from .grids import crop_to_image, draw_map_grid

    images, maps, points = [], [], []
    for path in image_files:
        image, inputs = prepare_image(model, path, size)
        height, width = image.shape[:2]
        point = query or (height // 2, width // 2)
        if not (0 <= point[0] < height and 0 <= point[1] < width):
            raise ValueError(f'query {point} is outside the {height}x{width} image {path}')
        fractions = (point[0] / inputs.shape[2], point[1] / inputs.shape[3])
        recorder = ModulationRecorder(model, query=fractions, **recorder_options)
        with recorder, torch.no_grad():
            find_smt(model)(inputs)
        input_size = (inputs.shape[2], inputs.shape[3])
        # modulators, then heads, then attention; blocks in the order they run
        labels = sorted(recorder.maps, key=lambda k: ('attention' in k, ' head ' in k))
        maps.append(
            {k: crop_to_image(recorder.maps[k][0], (height, width), input_size) for k in labels}
        )
        images.append(image)
        points.append(point if recorder.attention else None)
    titles = [os.path.basename(path) for path in image_files]
    return draw_map_grid(images, maps, out_file, titles, points, heading=heading)
