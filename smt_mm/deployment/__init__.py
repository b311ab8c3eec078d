"""ONNX export of SMT models and their checks with ONNX Runtime (docs/deployment.md).

:mod:`.export` builds and writes the graph of a config's model (the whole classifier or
segmentor, or the backbone and neck), :mod:`.runtime` runs the file with ONNX Runtime and
compares its predictions with PyTorch's (:mod:`smt_mm.benchmark.onnx_runtime` times both side
by side). Models are built by :func:`smt_mm.apis.build_model`.
"""

from .export import (
    DEFAULT_OPSET,
    EXPORT_PARTS,
    EXPORTERS,
    TASKS,
    ClassifierGraph,
    ExportError,
    ExportResult,
    FeatureGraph,
    SegmentorGraph,
    build_graph,
    check_request,
    default_shape,
    describe,
    export_graph,
    export_onnx,
    set_smt_path,
)
from .runtime import (
    Agreement,
    OnnxModel,
    Verification,
    compare_predictions,
    graph_outputs,
    max_abs_diffs,
    predict_onnx,
    predict_pytorch,
    prepare_inputs,
    verify_onnx,
)

__all__ = ['DEFAULT_OPSET', 'EXPORTERS', 'TASKS', 'EXPORT_PARTS', 'Agreement', 'ClassifierGraph']
__all__ += ['ExportError', 'ExportResult', 'FeatureGraph', 'OnnxModel', 'SegmentorGraph']
__all__ += ['build_graph', 'compare_predictions', 'default_shape', 'describe', 'export_graph']
__all__ += ['export_onnx', 'graph_outputs', 'max_abs_diffs', 'predict_onnx']
__all__ += ['check_request']
__all__ += ['predict_pytorch', 'prepare_inputs', 'set_smt_path', 'Verification', 'verify_onnx']
