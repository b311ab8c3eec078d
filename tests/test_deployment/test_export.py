"""ONNX export checked with the real ONNX Runtime: parity, dynamic shapes, same predictions.

The exports of whole models and the dynamo exports take 20-60 s each on two cores: ``slow``.
"""

import glob
import json
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT

from smt_mm.apis import build_model
from smt_mm.deployment import (
    ExportError,
    FeatureGraph,
    OnnxModel,
    export_graph,
    export_onnx,
    graph_outputs,
    max_abs_diffs,
    predict_onnx,
    predict_pytorch,
    prepare_inputs,
)
from smt_mm.models.backbones.smt import SMT
from smt_mm.toydata import generate_ade20k, generate_coco, generate_imagenet

CONFIGS = {
    'classification': osp.join(REPO_ROOT, 'configs', 'classification', 'smt_t_toy.py'),
    'segmentation': osp.join(REPO_ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py'),
    'detection': osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py'),
}
#: fp32 parity asked of every graph output against PyTorch.
ATOL = 1e-4


@pytest.fixture(scope='module')
def images(tmp_path_factory) -> dict[str, list[str]]:
    """Two generated validation images per task (toy shapes, as the demos use)."""
    root = tmp_path_factory.mktemp('toy')
    generate_coco(str(root / 'coco'), 1, 2)
    generate_ade20k(str(root / 'ade'), 1, 2)
    generate_imagenet(str(root / 'imagenet'), 1, 1, size=32)
    return {
        'detection': sorted(glob.glob(str(root / 'coco' / 'val2017' / '*.jpg'))),
        'segmentation': sorted(glob.glob(str(root / 'ade' / 'images' / 'validation' / '*.jpg'))),
        'classification': sorted(glob.glob(str(root / 'imagenet' / 'val' / '*' / '*.png')))[:2],
    }


# Both exporters with dynamic shapes (torch.export's symbolic shapes make the dynamo export
# several times slower than a fixed-size one: the trained toy models' tests export at a fixed size).
@pytest.mark.parametrize(
    'exporter', [pytest.param('dynamo', marks=pytest.mark.slow), 'torchscript']
)
def test_backbone_parity_and_dynamic_shapes(tmp_path, exporter):
    """SMT-T's plain path in ONNX Runtime matches PyTorch's default (fused) path."""
    torch.manual_seed(0)
    model = SMT(arch='tiny').eval()
    assert model.fused is True  # PyTorch's CPU default, the reference
    exported = SMT(arch='tiny', fused=False).eval()
    exported.load_state_dict(model.state_dict())
    path = export_graph(
        exported,
        torch.randn(2, 3, 64, 96),
        str(tmp_path / 'smt_t.onnx'),
        [f'stage{i}' for i in range(4)],
        dynamic=True,
        exporter=exporter,
    )
    onnx_model = OnnxModel(path)
    assert onnx_model.input_shape == ['batch', 3, 'height', 'width']
    for shape in [(1, 3, 64, 96), (2, 3, 97, 53)]:
        inputs = torch.randn(*shape)
        outputs = onnx_model(inputs)
        expected = graph_outputs(model, inputs)
        assert [o.shape for o in outputs] == [tuple(e.shape) for e in expected]
        assert max(max_abs_diffs(outputs, expected)) <= ATOL


@pytest.mark.slow
def test_detection_backbone_neck_dynamic_same_boxes(tmp_path, images):
    """Backbone + FPN with any size; the heads on ONNX features give PyTorch's boxes."""
    config = CONFIGS['detection']
    result = export_onnx(
        config, str(tmp_path / 'det.onnx'), what='backbone', dynamic=True, exporter='torchscript'
    )
    assert result.output_names == [f'feat{i}' for i in range(5)]
    model = build_model(config)
    cfg = model.cfg
    onnx_model = OnnxModel(result.path)
    assert onnx_model.metadata['what'] == 'backbone'
    assert onnx_model.classes == list(cfg.metainfo.classes)
    graph = FeatureGraph(model)
    for shape in [(1, 3, 128, 128), (2, 3, 96, 160)]:
        inputs = torch.randn(*shape)
        assert max(max_abs_diffs(onnx_model(inputs), graph_outputs(graph, inputs))) <= ATOL
    data = prepare_inputs(cfg, model, images['detection'][:1], onnx_model)
    ours = predict_onnx(cfg, model, onnx_model, data)[0].pred_instances
    theirs = predict_pytorch(model, prepare_inputs(cfg, model, images['detection'][:1]))
    theirs = theirs[0].pred_instances
    assert len(theirs) > 0 and torch.equal(ours.labels, theirs.labels)
    assert torch.allclose(ours.bboxes, theirs.bboxes, atol=1e-2)
    assert torch.equal(ours.masks, theirs.masks)
    assert not hasattr(model, 'extract_feat') or 'extract_feat' not in vars(model)


@pytest.mark.slow
def test_classifier_export_tool_same_labels(tmp_path, images, load_tool, capsys):
    """tools/deployment/export_onnx.py --verify: the whole classifier, same labels."""
    tool = load_tool('tools/deployment/export_onnx.py')
    out = str(tmp_path / 'cls.onnx')
    tool.main([CONFIGS['classification'], '--out', out, '--shape', '32x32', '--verify',
               '--images', *images['classification']])  # fmt: skip
    printed = capsys.readouterr().out
    assert 'classification model (any batch, height x width 32x32' in printed
    assert 'classification, 2 image(s): same predictions (labels_equal 2' in printed
    assert max(_printed_diffs(printed)) <= ATOL
    assert OnnxModel(out).output_names == ['logits']


@pytest.mark.slow
def test_segmentor_fixed_shape_same_label_maps(tmp_path, images, load_tool, capsys):
    """The whole UPerNet at its preprocessor's size; onnx_inference.py agrees with PyTorch."""
    config = CONFIGS['segmentation']
    result = export_onnx(config, str(tmp_path / 'seg.onnx'))
    assert result.input_shape == (2, 3, 128, 128)
    assert result.output_names == ['logits', 'labels']
    tool = load_tool('tools/deployment/onnx_inference.py')
    tool.main([result.path, config, '--images', *images['segmentation']])
    printed = capsys.readouterr().out
    assert f'{images["segmentation"][0]}: ' in printed
    assert 'on 2x3x128x128: max abs diff logits' in printed
    assert max(_printed_diffs(printed)) <= ATOL
    assert 'segmentation, 2 image(s): same predictions' in printed


def _printed_diffs(printed: str) -> list[float]:
    """The differences of the tools' ``max abs diff NAME VALUE, ...`` line."""
    line = printed.split('max abs diff ')[1].splitlines()[0]
    return [float(item.split()[-1]) for item in line.split(',')]


def test_unsupported_requests_fail_clearly(tmp_path, images):
    with pytest.raises(ExportError, match='fixed shape.*drop --dynamic'):
        export_onnx(CONFIGS['segmentation'], str(tmp_path / 'x.onnx'), dynamic=True)
    with pytest.raises(ExportError, match='whole detector.*--what backbone'):
        export_onnx(CONFIGS['detection'], str(tmp_path / 'x.onnx'))
    with pytest.raises(ExportError, match='fixes no image size.*--shape'):
        export_onnx(CONFIGS['classification'], str(tmp_path / 'x.onnx'))
    with pytest.raises(ExportError, match="what='neck'"):
        export_onnx(CONFIGS['classification'], str(tmp_path / 'x.onnx'), (32, 32), what='neck')
    with pytest.raises(ExportError, match="exporter='jit'"):
        export_onnx(CONFIGS['classification'], str(tmp_path / 'x.onnx'), (32, 32), exporter='jit')
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        build_model(CONFIGS['classification'], str(tmp_path / 'missing.pth'))
    assert not glob.glob(str(tmp_path / '*.onnx'))


@pytest.mark.slow
def test_fixed_shape_file_metadata_and_wrong_image_size(tmp_path, images):
    """The metadata records the preprocessing; other image sizes are refused with the fix."""
    result = export_onnx(
        CONFIGS['classification'],
        str(tmp_path / 'cls.onnx'),
        shape=(48, 48),
        exporter='torchscript',
    )
    onnx_model = OnnxModel(result.path)
    meta = onnx_model.metadata
    assert meta['task'] == 'classification' and meta['input_shape'] == '3x48x48'
    preprocessing = json.loads(meta['preprocessing'])
    assert preprocessing['to_rgb'] is True and preprocessing['mean'][0] == 123.675
    model = build_model(CONFIGS['classification'])
    cfg = model.cfg
    with pytest.raises(ExportError, match=r'\(32, 32\).*takes \(48, 48\).*--dynamic'):
        prepare_inputs(cfg, model, images['classification'], onnx_model)


def test_shape_option(load_tool):
    tool = load_tool('tools/deployment/export_onnx.py')
    assert tool.parse_args(['c.py', '--out', 'x.onnx', '--shape', '800', '1344']).shape == (
        800,
        1344,
    )
    assert tool.parse_args(['c.py', '--out', 'x.onnx', '--shape', '800x1344']).shape == (800, 1344)
    for bad in (['800x1344x2'], ['800'], ['1', '2', '3'], ['axb']):
        with pytest.raises(SystemExit):
            tool.parse_args(['c.py', '--out', 'x.onnx', '--shape', *bad])
    with pytest.raises(SystemExit):
        tool.parse_args(['c.py', '--out', 'x.onnx', '--images', 'a.jpg'])
