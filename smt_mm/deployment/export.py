"""Export an mmpretrain classifier, mmseg segmentor or mmdet detector with SMT to ONNX.

What is exported (the *graph*) depends on the task and on ``what``:

* ``what='model'``: the whole classifier (normalised image in, ``logits`` out) or the whole
  segmentor at a fixed shape (``logits`` at the input resolution and the ``labels`` map out).
* ``what='backbone'``: the model's ``extract_feat`` (backbone and neck, e.g. SMT + FPN) with
  dynamic height and width if asked; the heads and their post-processing stay in PyTorch
  (:func:`smt_mm.deployment.runtime.predict_onnx` runs them on the ONNX features).

The graph's input is what the config's data preprocessor makes of the images (channels
converted, mean/std normalised, padded): the ONNX file's metadata records those settings.
SMT runs its plain path (``fused=False``) in the graph: the fused path builds depthwise kernels
at run time, which the TorchScript exporter cannot export, and ONNX Runtime fuses by itself.
"""

import importlib
import json
import logging
import os
import os.path as osp
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from torch import nn

from ..apis import build_model
from ..config import load_config
from ..models.backbones.smt import SMT
from ..utils.compat import onnx_dynamo_exporter, onnx_export_takes, onnx_torchscript_max_opset

#: The task of each toolbox scope.
TASKS: dict[str, str] = {
    'mmpretrain': 'classification',
    'mmseg': 'segmentation',
    'mmdet': 'detection',
}
#: What can be exported: the whole model or the backbone with its neck.
EXPORT_PARTS: tuple[str, ...] = ('model', 'backbone')
#: ``'auto'``: dynamo where the installed torch has it (2.5+), TorchScript otherwise;
#: ``'dynamo'``: ``torch.export`` based (torch's default); ``'torchscript'``: the tracer that
#: mmdeploy uses (it cannot export UPerNet's pyramid pooling).
EXPORTERS: tuple[str, ...] = ('auto', 'dynamo', 'torchscript')
DEFAULT_OPSET = 18


def require(module: str) -> Any:
    """Import an ONNX package, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f'{module} is not installed: pip install -e ".[deploy]" (the ONNX extra)'
        ) from None


class ExportError(ValueError):
    """A request the ONNX export cannot serve; the message names the way that works."""


class FeatureGraph(nn.Module):
    """The model's ``extract_feat``: the backbone and its neck, one output per level."""

    model: Any  # an OpenMMLab model: its heads are read as attributes

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the feature maps of the normalised ``inputs`` (N, 3, H, W)."""
        feats = self.model.extract_feat(inputs)
        return tuple(feats) if isinstance(feats, list | tuple) else (feats,)


class ClassifierGraph(nn.Module):
    """An mmpretrain classifier: the logits of its head (softmax comes after, in the runtime)."""

    model: Any  # an OpenMMLab model: its heads are read as attributes

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Return the logits (N, num_classes) of the normalised ``inputs`` (N, 3, H, W)."""
        return self.model(inputs, mode='tensor')


class SegmentorGraph(nn.Module):
    """An mmseg encoder-decoder as in its whole-image inference, before cropping the padding.

    The decode head's logits are resized to the input size as mmseg's ``predict`` does; the
    labels are their arg-max (or the thresholded sigmoid of a one-channel head).
    """

    model: Any  # an OpenMMLab model: its heads are read as attributes

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits, labels)``: (N, C, H, W) float and (N, H, W) int64."""
        head = self.model.decode_head
        logits = nn.functional.interpolate(
            head(self.model.extract_feat(inputs)),
            size=inputs.shape[2:],
            mode='bilinear',
            align_corners=head.align_corners,
        )
        if logits.shape[1] == 1:
            return logits, (logits.sigmoid() > head.threshold).long().squeeze(1)
        return logits, logits.argmax(dim=1)


@dataclass
class ExportResult:
    """A written ONNX file and what it holds."""

    path: str
    task: str
    what: str
    exporter: str
    input_shape: tuple[int, int, int, int]
    dynamic: bool
    output_names: list[str]
    seconds: float
    #: Why ``exporter`` is not the one asked for, if it is not.
    note: str | None = None


def set_smt_path(model: nn.Module, fused: bool | str = False) -> int:
    """Switch every SMT backbone of ``model`` to its plain or fused path.

    Args:
        model (nn.Module): The model.
        fused (bool | str): SMT's ``fused`` setting; False (the default) is the plain path of
            the export (stored weights only), ``'auto'`` SMT's default.

    Returns:
        int: How many SMT backbones were switched.
    """
    backbones = [m for m in model.modules() if isinstance(m, SMT)]
    for backbone in backbones:
        backbone.fused = fused
    return len(backbones)


def _pipeline_size(cfg: Config) -> tuple[int, int] | None:
    """The (height, width) a test pipeline resizes or crops to, if it fixes one."""
    for transform in reversed(cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline):
        size = transform.get('crop_size', transform.get('scale'))
        if isinstance(size, int):
            return size, size
        if isinstance(size, Sequence) and len(size) == 2:
            return int(size[1]), int(size[0])  # mmcv sizes are (width, height)
    return None


def default_shape(cfg: Config, task: str) -> tuple[int, int]:
    """The input (height, width) of an export without ``shape``.

    Segmentation: the data preprocessor's padding ``size``; otherwise the size the test
    pipeline resizes or crops to, rounded up to the detector's ``pad_size_divisor``.

    Raises:
        ExportError: If the config fixes no size.
    """
    preprocessor = cfg.model.get('data_preprocessor') or {}
    if task == 'segmentation' and preprocessor.get('size'):
        height, width = preprocessor['size']
        return int(height), int(width)
    size = _pipeline_size(cfg)
    if size is None:
        raise ExportError(
            "the config's test pipeline fixes no image size: give the input size, e.g. "
            '--shape 224 224'
        )
    divisor = int(preprocessor.get('pad_size_divisor', 1))
    return tuple(-(-side // divisor) * divisor for side in size)  # type: ignore[return-value]


def choose_exporter(requested: str) -> tuple[str, str | None]:
    """The exporter that serves ``requested`` with the installed torch.

    Args:
        requested (str): One of :data:`EXPORTERS`.

    Returns:
        tuple[str, str | None]: ``'dynamo'`` or ``'torchscript'``, and a note saying why when
        it is not the one asked for (``'dynamo'`` on a torch without the dynamo exporter).

    Raises:
        ExportError: If ``requested`` is not one of :data:`EXPORTERS`.
    """
    if requested not in EXPORTERS:
        raise ExportError(f'exporter={requested!r}: choose one of {EXPORTERS}')
    if requested == 'torchscript':
        return requested, None
    missing = onnx_dynamo_exporter()
    if missing is None:
        return 'dynamo', None
    note = None
    if requested == 'dynamo':
        note = f'{missing}: exporting with the TorchScript exporter instead'
    return 'torchscript', note


def check_request(task: str, what: str, dynamic: bool, exporter: str = 'auto') -> None:
    """Refuse, before any model is built, what cannot be exported for ``task``.

    Raises:
        ExportError: If the combination cannot be exported (the message says what can).
    """
    if what not in EXPORT_PARTS:
        raise ExportError(f'what={what!r}: choose one of {EXPORT_PARTS}')
    exporter, _ = choose_exporter(exporter)
    if what == 'backbone':
        return
    if task == 'detection':
        raise ExportError(
            'the whole detector cannot be exported with this stack (docs/deployment.md says '
            'why): export the backbone and neck with --what backbone (dynamic shapes work); '
            'onnx_inference.py runs the heads in PyTorch on its features'
        )
    if task == 'segmentation' and dynamic:
        raise ExportError(
            "the whole segmentor is exported at a fixed shape (UPerNet's pyramid pooling "
            'pools to fixed grids of the input size): drop --dynamic and give the '
            'deployed size with --shape H W, or export --what backbone --dynamic'
        )
    if task == 'segmentation' and exporter == 'torchscript':
        missing = onnx_dynamo_exporter()
        fix = (
            'use --exporter dynamo'
            if missing is None
            else f'{missing}: export --what backbone, or the whole segmentor with torch >= 2.5'
        )
        raise ExportError(
            "the TorchScript exporter cannot export UPerNet's pyramid pooling (adaptive "
            f'pooling to sizes that do not divide the feature map): {fix}'
        )


def build_graph(model: nn.Module, task: str, what: str, dynamic: bool) -> nn.Module:
    """Wrap ``model`` in the module that is exported for ``task`` and ``what``.

    Raises:
        ExportError: If the combination cannot be exported (see :func:`check_request`).
    """
    check_request(task, what, dynamic)
    if what == 'backbone':
        return FeatureGraph(model)
    return SegmentorGraph(model) if task == 'segmentation' else ClassifierGraph(model)


def _metadata(cfg: Config, task: str, what: str, shape: tuple, dynamic: bool) -> dict[str, str]:
    """What a deployer needs besides the graph: task, input preparation, classes."""
    preprocessor = dict(cfg.model.get('data_preprocessor') or {})
    meta = dict(
        producer='smt_mm',
        task=task,
        what=what,
        input_shape='x'.join(map(str, shape)),
        dynamic=str(dynamic),
        config=osp.basename(cfg.filename or ''),
        preprocessing=json.dumps(
            {k: v for k, v in preprocessor.items() if k != 'type'}, default=str
        ),
    )
    classes = (cfg.get('metainfo') or {}).get('classes') or cfg.get('classes')
    if classes:
        meta['classes'] = json.dumps(list(classes))
    return meta


def _write_metadata(path: str, meta: Mapping[str, str]) -> None:
    onnx = require('onnx')
    proto = onnx.load(path)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def _check_opset(exporter: str, opset: int | None) -> int:
    """The opset to export with: ``opset``, or the default the exporter can write."""
    newest = onnx_torchscript_max_opset() if exporter == 'torchscript' else DEFAULT_OPSET
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if exporter == 'torchscript' and opset > newest:
        raise ExportError(
            f'opset {opset}: the TorchScript exporter of torch {torch.__version__} writes opsets '
            f'up to {newest}: give --opset {newest} (or leave --opset out)'
        )
    return opset


def export_graph(
    graph: nn.Module,
    inputs: torch.Tensor,
    out: str,
    output_names: Sequence[str],
    dynamic: bool = False,
    exporter: str = 'auto',
    opset: int | None = None,
) -> str:
    """Export a module that takes one image batch to ONNX.

    Args:
        graph (nn.Module): The module, in eval mode.
        inputs (torch.Tensor): A sample batch (N, 3, H, W) of two or more images (the batch
            axis is always dynamic; torch.export would fix an axis of size 1).
        out (str): The ONNX file to write (one file, weights included).
        output_names (Sequence[str]): Names of the outputs, in order.
        dynamic (bool): Dynamic height and width too. Defaults to False.
        exporter (str): One of :data:`EXPORTERS` (see :func:`choose_exporter`; a note is
            logged when it is not the one asked for). Defaults to ``'auto'``.
        opset (int, optional): The ONNX opset. Defaults to None: :data:`DEFAULT_OPSET`, or the
            newest one the TorchScript exporter of this torch writes if that is older (17 on
            torch 2.1).

    Returns:
        str: ``out``.

    Raises:
        ExportError: If ``opset`` is newer than the TorchScript exporter of this torch writes.
    """
    exporter, note = choose_exporter(exporter)
    if note is not None:
        print_log(note, logger='current', level=logging.WARNING)
    if exporter == 'dynamo':
        require('onnxscript')
    opset = _check_opset(exporter, opset)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    kwargs: dict[str, Any] = dict(input_names=['inputs'], output_names=list(output_names))
    axes = {0: 'batch', 2: 'height', 3: 'width'} if dynamic else {0: 'batch'}
    if exporter == 'dynamo':
        dims = {axis: torch.export.Dim(name) for axis, name in axes.items()}
        kwargs.update(dynamo=True, external_data=False, dynamic_shapes=(dims,))
    else:
        kwargs.update(dynamic_axes={'inputs': axes})
        if onnx_export_takes('dynamo'):  # torch >= 2.9 exports with dynamo unless told not to
            kwargs.update(dynamo=False)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer and deprecation chatter
        torch.onnx.export(graph, (inputs,), out, opset_version=opset, **kwargs)
    return out


def export_onnx(
    config: str | Config,
    out: str,
    checkpoint: str | None = None,
    shape: tuple[int, int] | None = None,
    dynamic: bool = False,
    what: str = 'model',
    exporter: str = 'auto',
    opset: int | None = None,
    cfg_options: Mapping | None = None,
) -> ExportResult:
    """Export a config's model (or its backbone and neck) to one ONNX file.

    Args:
        config (str | Config): The config or its path.
        out (str): The ONNX file to write.
        checkpoint (str, optional): The trained weights; None exports the initial weights.
            Defaults to None.
        shape (tuple[int, int], optional): Input (height, width); None takes
            :func:`default_shape`. Defaults to None.
        dynamic (bool): Dynamic height and width (not for the whole segmentor); the batch
            size is always dynamic. Defaults to False.
        what (str): ``'model'`` or ``'backbone'`` (backbone and neck). Defaults to ``'model'``.
        exporter (str): One of :data:`EXPORTERS` (see :func:`choose_exporter`). Defaults to
            ``'auto'``.
        opset (int, optional): The ONNX opset (see :func:`export_graph`). Defaults to None.
        cfg_options (Mapping, optional): Config overrides. Defaults to None.

    Returns:
        ExportResult: The file and what it holds.

    Raises:
        ExportError: If the request cannot be exported (the message says what can).
    """
    cfg = load_config(config, cfg_options)
    task = TASKS[cfg.default_scope]
    exporter, note = choose_exporter(exporter)
    check_request(task, what, dynamic, exporter)
    height, width = shape or default_shape(cfg, task)
    model = build_model(cfg, checkpoint)
    cfg = model.cfg
    graph = build_graph(model, task, what, dynamic)
    set_smt_path(model)
    # torch.export specialises an axis of size 1: trace the dynamic batch with two images.
    input_shape = (2, 3, height, width)
    inputs = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = graph(inputs)
    if what == 'backbone':
        names = [f'feat{i}' for i in range(len(outputs))]
    else:
        names = ['logits', 'labels'] if task == 'segmentation' else ['logits']
    start = time.perf_counter()
    export_graph(graph, inputs, out, names, dynamic, exporter, opset)
    _write_metadata(out, _metadata(cfg, task, what, input_shape[1:], dynamic))
    return ExportResult(
        path=out,
        task=task,
        what=what,
        exporter=exporter,
        input_shape=input_shape,  # type: ignore[arg-type]
        dynamic=dynamic,
        output_names=names,
        seconds=time.perf_counter() - start,
        note=note,
    )


def describe(result: ExportResult) -> str:
    """One line on an export, for the tools."""
    size = 'x'.join(map(str, result.input_shape[2:]))
    shape = 'any height and width' if result.dynamic else f'height x width {size}'
    line = (
        f'wrote {result.path}: {result.task} {result.what} (any batch, {shape}; outputs '
        f'{", ".join(result.output_names)}; {result.exporter} exporter, {result.seconds:.1f} s)'
    )
    return line if result.note is None else f'{line}\nnote: {result.note}'
