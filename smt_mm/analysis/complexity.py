"""Parameters and FLOPs, with and without the attention matrix products (docs/complexity.md).

One counter serves ``tools/analysis/get_flops.py`` and the benchmark: mmengine's
:class:`~mmengine.analysis.FlopAnalyzer` (one multiply-add is one FLOP, the papers' convention)
with :func:`sdpa_flop_jit` for ``aten::scaled_dot_product_attention``, which mmengine lacks.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement, InstanceData
from torch import nn

from ..apis import build_model
from ..config import load_config
from .paper import PaperModel, format_count

#: Largest relative difference from a published figure that still counts as agreement: the
#: papers round to 0.1G / 1M and counters differ in small operators (docs/complexity.md).
FLOPS_TOLERANCE = 0.02
PARAMS_TOLERANCE = 0.02

#: Operators that compute attention matrix products (and nothing else in the shipped models).
ATTENTION_OPS = ('scaled_dot_product_attention', 'matmul', 'bmm')
#: RoIs per image through a detector's mask head(s) in the count (mmdet 2.x's ``forward_dummy``).
MASK_ROIS = 100


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Count the multiply-adds of ``aten::scaled_dot_product_attention`` (a jit handle).

    ``Q K^T`` costs ``L * S * E`` and ``softmax(.) V`` costs ``L * S * Ev`` per batch and head,
    for a query ``(..., L, E)``, a key ``(..., S, E)`` and a value ``(..., S, Ev)``; the softmax
    is not counted, as mmengine does not count it in explicit attention either.
    """
    from mmengine.analysis.jit_handles import get_shape

    query, key, value = (get_shape(v) for v in inputs[:3])
    return math.prod(query[:-2]) * query[-2] * key[-2] * (query[-1] + value[-1])


def _analyzer(model: nn.Module, inputs: tuple[Any, ...]) -> FlopAnalyzer:
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return analyzer


def count_flops(model: nn.Module, inputs: tuple[Any, ...]) -> dict[str, int]:
    """Count the FLOPs (multiply-adds) of ``model(*inputs)`` by operator, e.g. ``'conv'``."""
    with torch.no_grad():
        return dict(_analyzer(model, inputs).by_operator())


def _mask_heads(model: nn.Module) -> dict[str, nn.Module]:
    """The mask heads of a detector by module name: ``roi_head.mask_head`` or ``...mask_head.i``."""
    heads = getattr(getattr(model, 'roi_head', None), 'mask_head', None)
    if isinstance(heads, nn.ModuleList):
        return {f'roi_head.mask_head.{i}': head for i, head in enumerate(heads)}
    return {} if heads is None else {'roi_head.mask_head': heads}


class _TensorModeForward(nn.Module):
    """Calls an OpenMMLab model's ``mode='tensor'`` forward with fixed data samples."""

    def __init__(self, model: BaseModel, data_samples: list[BaseDataElement]) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor) -> Any:
        """Run ``model(inputs, data_samples, mode='tensor')``."""
        return self.model(inputs, self.data_samples, mode='tensor')


@dataclass(frozen=True)
class Complexity:
    """Parameters and FLOPs of one model at one ``(height, width)`` input size.

    ``flops`` counts every operator, attention matrix products included; ``attention_flops``
    those of :data:`ATTENTION_OPS`.
    """

    params: int
    flops: int
    attention_flops: int
    input_size: tuple[int, int]

    @property
    def flops_without_attention(self) -> int:
        """int: FLOPs without the attention matrix products, as module-hook counters report."""
        return self.flops - self.attention_flops


def model_complexity(model: nn.Module, input_size: tuple[int, int]) -> Complexity:
    """Count the parameters and FLOPs of a model on one dummy image.

    Args:
        model (nn.Module): An OpenMMLab model (its ``mode='tensor'`` forward is traced, with
            minimal image metadata) or a plain module taking one NCHW tensor, e.g. a backbone.
        input_size (tuple): ``(height, width)`` of the dummy image.

    Returns:
        Complexity: The counts.
    """
    was_training = model.training
    model.eval()
    traced = model
    if isinstance(model, BaseModel):
        shape = tuple(input_size)
        meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape)
        sample = BaseDataElement(metainfo=dict(meta, scale_factor=(1.0, 1.0)))
        # no objects: Sparse R-CNN's tensor-mode forward runs its (Hungarian) assigner
        empty = dict(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
        sample.gt_instances = InstanceData(**empty)
        traced = _TensorModeForward(model, [sample])
    heads = _mask_heads(model)
    rois: dict[str, list[int]] = {name: [] for name in heads}
    hooks = [
        head.register_forward_pre_hook(lambda _, args, seen=rois[name]: seen.append(len(args[0])))
        for name, head in heads.items()
    ]
    device = next(model.parameters()).device
    analyzer = _analyzer(traced, (torch.rand(1, 3, *input_size, device=device),))
    with torch.no_grad():
        by_operator = analyzer.by_operator()
    for hook in hooks:
        hook.remove()
    # mask heads on MASK_ROIS RoIs, as mmdet 2.x's forward_dummy ran them when the papers counted
    # (mmdet 3.x's cascade runs every stage's mask head on all proposals in tensor mode)
    prefix = 'model.' if traced is not model else ''
    surplus = sum(
        analyzer.by_module()[prefix + name] * (1 - MASK_ROIS * len(seen) / sum(seen))
        for name, seen in rois.items()
        if seen and sum(seen) > MASK_ROIS * len(seen)
    )
    model.train(was_training)
    return Complexity(
        params=parameter_count(model)[''],
        flops=sum(by_operator.values()) - round(surplus),
        attention_flops=sum(by_operator.get(op, 0) for op in ATTENTION_OPS),
        input_size=(input_size[0], input_size[1]),
    )


def counting_config(config: str | Path | Config, cfg_options: Mapping | None = None) -> Config:
    """Read a config for counting: no pretrained file, a fixed number of RPN proposals.

    Build its model with :func:`~smt_mm.apis.build_model`. The backbone is initialised without
    its pretrained file (none is needed) and a two-stage detector's RPN keeps exactly
    ``max_per_img`` proposals (NMS threshold 1.0), as mmdet 2.x's ``forward_dummy`` did with its
    1000 fixed proposals when the Swin and SMT papers counted their FLOPs; otherwise the RoI
    heads' share would depend on how many boxes an untrained RPN's NMS happens to keep.

    Args:
        config (str | Path | Config): The config or its path.
        cfg_options (Mapping, optional): Overrides, as ``--cfg-options``. Defaults to None.

    Returns:
        Config: The config, changed for counting.
    """
    cfg = load_config(config, cfg_options)
    rpn_cfg = cfg.model.get('test_cfg', {}).get('rpn')
    if rpn_cfg is not None and 'nms' in rpn_cfg:
        rpn_cfg.nms.iou_threshold = 1.0
    if 'backbone' in cfg.model:
        cfg.model.backbone.init_cfg = None
    return cfg


@dataclass(frozen=True)
class ComplexityRow:
    """A line of the complexity table: a config's name, our counts, its metafile entry if any."""

    name: str
    ours: Complexity
    paper: PaperModel | None


def config_complexity(
    config: str | Path,
    paper: PaperModel | None = None,
    input_size: tuple[int, int] | None = None,
    cfg_options: Mapping | None = None,
) -> ComplexityRow:
    """Count one config at the paper's input size and pair it with the paper's figures.

    Args:
        config (str | Path): Config path.
        paper (PaperModel, optional): Its metafile entry (the paper's figures and input size).
            Defaults to None.
        input_size (tuple, optional): ``(height, width)`` instead of the metafile's.
            Defaults to None.
        cfg_options (Mapping, optional): Config overrides. Defaults to None.

    Returns:
        ComplexityRow: Our counts and the paper's.
    """
    size = input_size or (paper.input_size if paper else None)
    if size is None:
        raise ValueError(f'{config}: no metafile entry gives its input size; pass input_size')
    ours = model_complexity(build_model(counting_config(config, cfg_options)), size)
    return ComplexityRow(Path(config).stem, ours, paper)


def relative_difference(ours: float, paper: float | None) -> float | None:
    """Return ``ours / paper - 1``, or None without a paper figure."""
    return None if not paper else ours / paper - 1


def _percent(ours: float, paper: float | None) -> str:
    value = relative_difference(ours, paper)
    return '-' if value is None else f'{value:+.1%}'


def complexity_markdown(rows: Iterable[ComplexityRow]) -> str:
    """Render rows of :func:`config_complexity` as a Markdown table (input size HxW)."""
    lines = [
        '| Config | Input (HxW) | Params | Paper | Δ | FLOPs w/o attn | FLOPs with attn | Paper '
        '| Δ w/o attn | Δ with attn |',
        '|:--|:-:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ]
    for row in rows:
        ours = row.ours
        params, flops = (row.paper.params, row.paper.flops) if row.paper else (None, None)
        lines.append(
            f'| {row.name} | {ours.input_size[0]}x{ours.input_size[1]} '
            f'| {ours.params / 1e6:.3f}M | {format_count(params)} '
            f'| {_percent(ours.params, params)} '
            f'| {ours.flops_without_attention / 1e9:.2f}G | {ours.flops / 1e9:.2f}G '
            f'| {format_count(flops)} | {_percent(ours.flops_without_attention, flops)} '
            f'| {_percent(ours.flops, flops)} |'
        )
    return '\n'.join(lines) + '\n'
