"""Parameters and FLOPs of shipped configs, with and without attention matrix products.

Counting is mmengine's :class:`~mmengine.analysis.FlopAnalyzer` (fvcore's jit-trace counter: one
fused multiply-add is one FLOP, the convention of the SMT and Swin papers). The model runs its
``mode='tensor'`` forward (what mmdet, mmseg and mmpretrain run to predict, without
post-processing) on one dummy image at the paper's input size.

Two FLOP figures are reported because published numbers disagree on what they count. The
attention matrix products (``q @ k^T`` and ``attn @ v``: ``aten::scaled_dot_product_attention`` in
SMT, ``aten::matmul`` in Swin's window attention) are counted by mmengine's fvcore-style counter
but not by module-hook counters (ptflops, mmcv 1.x ``get_flops``) such as the one the official
SMT code uses. mmengine has no handle for SDPA;
:func:`~smt_mm.analysis.benchmark.sdpa_flop_jit` adds one.
"""

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config
from mmengine.model import BaseModel, revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import BaseDataElement
from torch import nn

from .benchmark import sdpa_flop_jit
from .paper import PaperModel, format_count

#: The input size ``(width, height)`` at which the paper counts FLOPs, per task.
PAPER_INPUT_SIZES = {
    'classification': (224, 224),
    'detection': (1280, 800),
    'segmentation': (2048, 512),
}

#: Largest relative difference between our count and a published figure that still counts as
#: agreement, for parameters and for FLOPs counted the way the paper counts them. The papers
#: round to 0.1G / 1M (up to 2% at 2.4G, 1.25% at 40M) and counters differ slightly in what
#: they count besides convolutions and linear layers (norms, activations); docs/complexity.md
#: lists the measured differences this bound is drawn from.
FLOPS_TOLERANCE = 0.02
PARAMS_TOLERANCE = 0.02

#: Operators that compute attention matrix products (and nothing else in the shipped models).
ATTENTION_OPS = ('aten::scaled_dot_product_attention', 'aten::matmul', 'aten::bmm')


@dataclass(frozen=True)
class Complexity:
    """Parameters and FLOPs of one model at one input size.

    Args:
        params (int): Number of parameters.
        flops (int): FLOPs of every counted operator, attention matrix products included.
        attention_flops (int): FLOPs of the operators in :data:`ATTENTION_OPS`.
        input_size (tuple): ``(width, height)`` of the dummy image.
    """

    params: int
    flops: int
    attention_flops: int
    input_size: tuple[int, int]

    @property
    def flops_without_attention(self) -> int:
        """int: FLOPs without the attention matrix products, as module-hook counters report."""
        return self.flops - self.attention_flops


class _TensorModeForward(nn.Module):
    """Calls an OpenMMLab model's ``mode='tensor'`` forward with fixed data samples."""

    def __init__(self, model: BaseModel, data_samples: list[BaseDataElement]) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor) -> Any:
        return self.model(inputs, self.data_samples, mode='tensor')


def _dummy_data_samples(height: int, width: int) -> list[BaseDataElement]:
    shape = (height, width)
    metainfo = dict(
        img_shape=shape,
        ori_shape=shape,
        pad_shape=shape,
        batch_input_shape=shape,
        scale_factor=(1.0, 1.0),
    )
    return [BaseDataElement(metainfo=metainfo)]


def model_complexity(model: nn.Module, input_size: tuple[int, int]) -> Complexity:
    """Count the parameters and FLOPs of a model on one dummy image.

    Args:
        model (nn.Module): An OpenMMLab model (its ``mode='tensor'`` forward is traced, with
            minimal image metadata) or a plain module taking one NCHW tensor, e.g. a backbone.
        input_size (tuple): ``(width, height)`` of the dummy image.

    Returns:
        Complexity: Parameters, FLOPs with attention and the attention share.
    """
    width, height = input_size
    inputs = torch.rand(1, 3, height, width)
    was_training = model.training
    model.eval()
    traced = (
        _TensorModeForward(model, _dummy_data_samples(height, width))
        if isinstance(model, BaseModel)
        else model
    )
    analyzer = FlopAnalyzer(traced, (inputs,))
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with torch.no_grad():
        by_operator = analyzer.by_operator()
    model.train(was_training)
    attention = sum(by_operator.get(op.split('::')[1], 0) for op in ATTENTION_OPS)
    return Complexity(
        params=parameter_count(model)[''],
        flops=sum(by_operator.values()),
        attention_flops=attention,
        input_size=(width, height),
    )


def build_model(config: str | Path | Config, cfg_options: Mapping | None = None) -> nn.Module:
    """Build the model of a config for counting, without loading any checkpoint.

    SyncBN layers become BN (counting runs in one process) and a two-stage detector's RPN keeps
    exactly ``max_per_img`` proposals (NMS threshold 1.0), as mmdet 2.x's ``forward_dummy`` did
    with its 1000 fixed proposals when the Swin and SMT papers counted their FLOPs; otherwise the
    RoI heads' share would depend on how many boxes an untrained RPN's NMS happens to keep.

    Args:
        config (str | Path | Config): The config or its path.
        cfg_options (Mapping, optional): Overrides merged into the config first, as with
            ``--cfg-options``. Defaults to None.

    Returns:
        nn.Module: The model, in eval mode.
    """
    cfg = config if isinstance(config, Config) else Config.fromfile(str(config))
    cfg = copy.deepcopy(cfg)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    rpn_cfg = cfg.model.get('test_cfg', {}).get('rpn')
    if rpn_cfg is not None and 'nms' in rpn_cfg:
        rpn_cfg.nms.iou_threshold = 1.0
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    return model.eval()


@dataclass(frozen=True)
class ComplexityRow:
    """A line of the complexity table: our counts next to the paper's figures.

    Args:
        name (str): Model (config) name.
        ours (Complexity): What we count.
        paper_params (int, optional): The published parameter count.
        paper_flops (int, optional): The published FLOPs.
    """

    name: str
    ours: Complexity
    paper_params: int | None
    paper_flops: int | None


def config_complexity(
    config: str | Path,
    paper: PaperModel | None = None,
    input_size: tuple[int, int] | None = None,
    cfg_options: Mapping | None = None,
) -> ComplexityRow:
    """Count one config at the paper's input size and pair it with the paper's figures.

    Args:
        config (str | Path): Config path.
        paper (PaperModel, optional): Its metafile entry (gives the paper's figures and input
            size). Defaults to None (no paper figures).
        input_size (tuple, optional): ``(width, height)``; overrides the metafile's input size.
            Defaults to None.
        cfg_options (Mapping, optional): Config overrides. Defaults to None.

    Returns:
        ComplexityRow: Our counts and the paper's.

    Raises:
        ValueError: No input size is given and the config has no metafile entry to take it from.
    """
    size = input_size or (paper.input_size if paper else None)
    if size is None:
        raise ValueError(f'{config}: no metafile entry gives its input size; pass input_size')
    model = build_model(config, cfg_options)
    return ComplexityRow(
        name=Path(config).stem,
        ours=model_complexity(model, size),
        paper_params=paper.params if paper else None,
        paper_flops=paper.flops if paper else None,
    )


def relative_difference(ours: float, paper: float | None) -> float | None:
    """Return ``ours / paper - 1``, or None without a paper figure.

    Args:
        ours (float): Our value.
        paper (float, optional): The published value.

    Returns:
        float, optional: The relative difference.
    """
    return None if not paper else ours / paper - 1


def _percent(value: float | None) -> str:
    return '-' if value is None else f'{value:+.1%}'


def complexity_markdown(rows: Iterable[ComplexityRow]) -> str:
    """Render complexity rows as a Markdown table (counts in M / G, differences in %).

    Args:
        rows (Iterable[ComplexityRow]): Rows from :func:`config_complexity`.

    Returns:
        str: The table.
    """
    header = (
        '| Config | Input | Params | Paper | Δ | FLOPs w/o attn | FLOPs with attn | Paper | '
        'Δ w/o attn | Δ with attn |\n'
        '|:--|:-:|--:|--:|--:|--:|--:|--:|--:|--:|'
    )
    lines = [header]
    for row in rows:
        ours = row.ours
        lines.append(
            f'| {row.name} | {ours.input_size[0]}x{ours.input_size[1]} '
            f'| {ours.params / 1e6:.3f}M | {format_count(row.paper_params)} '
            f'| {_percent(relative_difference(ours.params, row.paper_params))} '
            f'| {ours.flops_without_attention / 1e9:.2f}G | {ours.flops / 1e9:.2f}G '
            f'| {format_count(row.paper_flops)} '
            f'| {_percent(relative_difference(ours.flops_without_attention, row.paper_flops))} '
            f'| {_percent(relative_difference(ours.flops, row.paper_flops))} |'
        )
    return '\n'.join(lines) + '\n'


def shipped_configs(
    models: Mapping[str, PaperModel], root: str | Path
) -> list[tuple[Path, PaperModel]]:
    """List the configs of the model index that exist on disk.

    Args:
        models (Mapping[str, PaperModel]): Models from
            :func:`~smt_mm.analysis.paper.load_model_index`.
        root (str | Path): Repository root the metafiles' config paths are relative to.

    Returns:
        list: ``(config path, metafile entry)`` pairs, in metafile order.
    """
    return [
        (Path(root) / model.config, model)
        for model in models.values()
        if (Path(root) / model.config).is_file()
    ]
