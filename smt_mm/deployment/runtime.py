"""Run an exported file with ONNX Runtime and check it against PyTorch on the same images.

Images go through the config's own test pipeline and data preprocessor (:func:`prepare_inputs`),
and ONNX Runtime's outputs through the model's own post-processing (:func:`predict_onnx`), so
that a difference between the two predictions can only come from the graph.
"""

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from torch import nn

from ..models.utils import check_input
from .export import TASKS, ExportError, require


class OnnxModel:
    """An ONNX Runtime CPU session on an exported file, with the metadata written at export.

    Args:
        path (str): The ONNX file.
        threads (int, optional): Intra-op threads; None lets ONNX Runtime choose.
            Defaults to None.
    """

    def __init__(self, path: str, threads: int | None = None) -> None:
        ort = require('onnxruntime')

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.path = path
        self.session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    @property
    def input_shape(self) -> list[int | str]:
        """list: The input's (N, C, H, W), a name where an axis is dynamic."""
        return list(self.session.get_inputs()[0].shape)

    @property
    def classes(self) -> list[str] | None:
        """list[str], optional: The class names recorded at export."""
        return json.loads(self.metadata['classes']) if 'classes' in self.metadata else None

    def __call__(self, inputs: torch.Tensor | np.ndarray) -> list[np.ndarray]:
        """Run the graph on a normalised batch (N, 3, H, W); return its outputs in order."""
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        return self.session.run(None, {self.input_name: np.ascontiguousarray(inputs)})


def max_abs_diffs(
    onnx_outputs: Sequence[np.ndarray], torch_outputs: Sequence[torch.Tensor]
) -> list[float]:
    """The largest absolute difference of each output pair (labels count as numbers)."""
    diffs = []
    for ours, theirs in zip(onnx_outputs, torch_outputs, strict=True):
        expected = theirs.detach().cpu().numpy()
        if ours.shape != expected.shape:
            raise AssertionError(f'output shape {ours.shape} != PyTorch {expected.shape}')
        diffs.append(float(np.abs(ours.astype(np.float64) - expected).max(initial=0.0)))
    return diffs


def graph_outputs(graph: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """The PyTorch outputs of an export graph, as a list."""
    with torch.no_grad():
        outputs = graph(inputs)
    return list(outputs) if isinstance(outputs, tuple) else [outputs]


def prepare_inputs(
    cfg: Config, model: nn.Module, images: Sequence[str], onnx_model: OnnxModel | None = None
) -> dict[str, Any]:
    """Load images through the config's test pipeline and the model's data preprocessor.

    Annotation loading is dropped from the pipeline. For a fixed-shape segmentation file the
    images are padded to its size (the padding is cropped again by mmseg's post-processing).

    Args:
        cfg (Config): The config.
        model (nn.Module): The model (its data preprocessor is used).
        images (Sequence[str]): Image files, all of one size after the pipeline.
        onnx_model (OnnxModel, optional): The file the inputs are for. Defaults to None.

    Returns:
        dict: ``inputs`` (the normalised batch) and ``data_samples``.

    Raises:
        ExportError: If the prepared batch does not fit the file's fixed input size.
    """
    steps = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
    pipeline = Compose([t for t in steps if not t['type'].startswith('LoadAnnotations')])
    data = pseudo_collate(
        [pipeline(dict(img_path=path, img_id=i)) for i, path in enumerate(images)]
    )
    shape = onnx_model.input_shape[2:] if onnx_model is not None else None
    fixed = shape is not None and all(isinstance(side, int) for side in shape)
    preprocessor: Any = model.data_preprocessor
    if fixed and TASKS[cfg.default_scope] == 'segmentation':
        preprocessor.test_cfg = dict(size=tuple(shape))  # type: ignore[arg-type]
    with torch.no_grad():
        data = preprocessor(data, False)
    check_input(data['inputs'])  # where the data enters: too small is an error, NaN a warning
    if fixed and list(data['inputs'].shape[2:]) != list(shape):  # type: ignore[arg-type]
        raise ExportError(
            f'the prepared images are {tuple(data["inputs"].shape[2:])} (height, width), the '
            f'ONNX file takes {tuple(shape)}: export it at that size (--shape) or with '  # type: ignore[arg-type]
            '--dynamic'
        )
    return data


def predict_pytorch(model: nn.Module, data: dict[str, Any]) -> list[Any]:
    """The model's own predictions (``mode='predict'``) on prepared ``data``."""
    with torch.no_grad():
        return model(data['inputs'], data['data_samples'], mode='predict')


@contextlib.contextmanager
def _onnx_features(model: Any, onnx_model: OnnxModel) -> Iterator[None]:
    """Make ``model.extract_feat`` return ONNX Runtime's features for the duration."""

    def extract_feat(inputs: torch.Tensor, *args: Any, **kwargs: Any) -> tuple:
        return tuple(torch.from_numpy(out) for out in onnx_model(inputs))

    model.extract_feat = extract_feat
    try:
        yield
    finally:
        del model.extract_feat


def predict_onnx(cfg: Config, model: Any, onnx_model: OnnxModel, data: dict[str, Any]) -> list[Any]:
    """Predict with ONNX Runtime and the model's own post-processing.

    A whole classifier's logits go through its head's post-processing (softmax, arg-max), a
    whole segmentor's through mmseg's ``postprocess_result`` (padding cropped, resized to the
    original image). For a backbone file the model's ``predict`` runs with the ONNX features
    in place of ``extract_feat``: heads, NMS and mask pasting stay in PyTorch.

    Returns:
        list: The data samples, as ``model(..., mode='predict')`` returns them.
    """
    task = TASKS[cfg.default_scope]
    what = onnx_model.metadata.get('what', 'model')
    samples = data['data_samples']
    if what == 'backbone':
        with _onnx_features(model, onnx_model):
            return predict_pytorch(model, data)
    outputs = [torch.from_numpy(out) for out in onnx_model(data['inputs'])]
    if task == 'classification':
        # mmpretrain's heads share this post-processing step (softmax / sigmoid, labels)
        return model.head._get_predictions(outputs[0], samples)
    return model.postprocess_result(outputs[0], samples)


@dataclass
class Agreement:
    """How far ONNX Runtime's predictions are from PyTorch's on the same images."""

    task: str
    images: int
    same: bool
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the tools."""
        items = ', '.join(
            f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}' for k, v in self.details.items()
        )
        verdict = 'same predictions' if self.same else 'DIFFERENT predictions'
        return f'{self.task}, {self.images} image(s): {verdict} ({items})'


def compare_predictions(task: str, ours: Sequence[Any], theirs: Sequence[Any]) -> Agreement:
    """Compare ONNX Runtime's predictions (``ours``) with PyTorch's (``theirs``).

    Classification: same labels, largest score difference. Segmentation: label maps equal
    except where PyTorch's two best classes are within ``1e-3`` (a tie that float rounding may
    break either way). Detection: same number of boxes and labels in the same order, largest
    box (pixels) and score differences, mask pixels that differ.

    Returns:
        Agreement: The verdict and its figures.
    """
    details: dict[str, Any] = {}
    same = True
    if task == 'classification':
        labels = [(int(a.pred_label), int(b.pred_label)) for a, b in zip(ours, theirs, strict=True)]
        same = all(a == b for a, b in labels)
        details['labels_equal'] = sum(a == b for a, b in labels)
        details['max_score_diff'] = max(
            float((a.pred_score - b.pred_score).abs().max())
            for a, b in zip(ours, theirs, strict=True)
        )
    elif task == 'segmentation':
        differ = near_ties = 0
        for a, b in zip(ours, theirs, strict=True):
            mismatch = a.pred_sem_seg.data != b.pred_sem_seg.data
            top2 = b.seg_logits.data.topk(2, dim=0).values
            tie = (top2[0] - top2[1] < 1e-3).unsqueeze(0)
            differ += int(mismatch.sum())
            near_ties += int((mismatch & tie).sum())
            details['max_logit_diff'] = max(
                details.get('max_logit_diff', 0.0),
                float((a.seg_logits.data - b.seg_logits.data).abs().max()),
            )
        same = differ == near_ties
        details.update(pixels_differ=differ, of_which_near_ties=near_ties)
    else:
        boxes = scores = 0.0
        mask_pixels = 0
        for a, b in zip(ours, theirs, strict=True):
            p, q = a.pred_instances, b.pred_instances
            if len(p) != len(q) or not torch.equal(p.labels, q.labels):
                same = False
                details['instances'] = f'{len(p)} vs {len(q)}'
                continue
            if len(p):
                boxes = max(boxes, float((p.bboxes - q.bboxes).abs().max()))
                scores = max(scores, float((p.scores - q.scores).abs().max()))
                if 'masks' in q:
                    mask_pixels += int((p.masks != q.masks).sum())
        details.update(max_box_diff_px=boxes, max_score_diff=scores, mask_pixels_differ=mask_pixels)
        details['instances_total'] = sum(len(b.pred_instances) for b in theirs)
    return Agreement(task, len(theirs), same, details)


@dataclass
class Verification:
    """An ONNX file checked against PyTorch: raw outputs and, on images, predictions."""

    output_names: list[str]
    max_abs_diff: list[float]
    input_shape: tuple[int, ...]
    agreement: Agreement | None = None
    predictions: list[Any] = field(default_factory=list)

    def summary(self) -> str:
        """The lines the tools print."""
        diffs = ', '.join(
            f'{n} {d:.2e}' for n, d in zip(self.output_names, self.max_abs_diff, strict=True)
        )
        shape = 'x'.join(map(str, self.input_shape))
        lines = [f'ONNX Runtime vs PyTorch on {shape}: max abs diff {diffs}']
        if self.agreement is not None:
            lines.append(self.agreement.summary())
        return '\n'.join(lines)


def verify_onnx(
    cfg: Config,
    model: nn.Module,
    onnx_model: OnnxModel,
    images: Sequence[str] = (),
) -> Verification:
    """Run ``onnx_model`` and the PyTorch ``model`` on the same inputs and compare.

    ``model`` runs as loaded (SMT's default path: fused on the CPU), so the check covers the
    plain path in the file against the path PyTorch users run.

    Args:
        cfg (Config): The config.
        model (nn.Module): The PyTorch model, with the weights that were exported.
        onnx_model (OnnxModel): The exported file.
        images (Sequence[str]): Images to compare predictions on; without, a random batch of
            the export's input shape is compared output by output. Defaults to ``()``.

    Returns:
        Verification: The differences of every output and, with images, of the predictions.
    """
    from .export import build_graph

    task = TASKS[cfg.default_scope]
    graph = build_graph(model, task, onnx_model.metadata.get('what', 'model'), dynamic=False)
    data = prepare_inputs(cfg, model, images, onnx_model) if images else None
    if data is None:
        shape = [int(side) for side in onnx_model.metadata['input_shape'].split('x')]
        inputs = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    else:
        inputs = data['inputs']
    diffs = max_abs_diffs(onnx_model(inputs), graph_outputs(graph, inputs))
    result = Verification(onnx_model.output_names, diffs, tuple(inputs.shape))
    if data is not None:
        theirs = predict_pytorch(model, data)
        ours = predict_onnx(cfg, model, onnx_model, prepare_inputs(cfg, model, images, onnx_model))
        result.agreement = compare_predictions(task, ours, theirs)
        result.predictions = list(ours)
    return result


def describe_prediction(task: str, sample: Any, classes: Sequence[str] | None = None) -> str:
    """One line on one image's prediction: the class, the label-map shares or the boxes."""

    def name(label: int) -> str:
        return classes[label] if classes and label < len(classes) else str(label)

    if task == 'classification':
        label = int(sample.pred_label)
        return f'{name(label)} ({float(sample.pred_score[label]):.3f})'
    if task == 'segmentation':
        labels, counts = sample.pred_sem_seg.data.unique(return_counts=True)
        shares = sorted(zip(counts.tolist(), labels.tolist(), strict=True), reverse=True)
        total = sum(counts.tolist())
        return ', '.join(f'{name(lab)} {100 * c / total:.1f}%' for c, lab in shares)
    instances = sample.pred_instances
    boxes = [
        f'{name(int(lab))} {float(score):.2f} [{", ".join(f"{v:.0f}" for v in box.tolist())}]'
        for lab, score, box in zip(
            instances.labels, instances.scores, instances.bboxes, strict=True
        )
        if score >= 0.3
    ]
    return f'{len(boxes)} of {len(instances)} detections with score >= 0.3: ' + '; '.join(boxes)
