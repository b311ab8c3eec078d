"""The trained toy models, exported with one command each, predict as PyTorch does.

The models are the shared session fixtures of ``tests/conftest.py`` (trained once per test
session); the commands are the documented ones, with the tools' defaults (dynamo exporter). The
detector's backbone is exported at the config's test size: ``--dynamic`` (3x slower to export)
is covered for both exporters by ``test_export.py::test_backbone_parity_and_dynamic_shapes``.
"""

import glob
import os.path as osp

import pytest

#: Per task: the session fixture, the validation images under its data root, export options.
CASES = {
    'classification': ('toy_classification_run', 'val/*/*.png', ['--shape', '32', '32']),
    'segmentation': ('toy_segmentation_run', 'images/validation/*.jpg', []),
    'detection': ('toy_detection_run', 'val2017/*.jpg', ['--what', 'backbone']),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    'task',
    [
        pytest.param(task, marks=pytest.mark.xdist_group(fixture))
        for task, (fixture, *_) in CASES.items()
    ],
)
def test_trained_toy_model_exports_with_the_same_predictions(
    task, request, tmp_path, load_tool, capsys
):
    fixture, pattern, options = CASES[task]
    try:
        run = request.getfixturevalue(fixture)
    except pytest.FixtureLookupError:
        pytest.skip(f'needs the shared {fixture} fixture of tests/conftest.py')
    images = sorted(glob.glob(osp.join(run.data_root, pattern)))[:4]
    assert len(images) == 4, run.data_root
    out = str(tmp_path / f'{task}.onnx')
    export = load_tool('tools/deployment/export_onnx.py')
    export.main([run.config, run.checkpoint, '--out', out, *options,
                 '--cfg-options', *run.cfg_options])  # fmt: skip
    assert osp.isfile(out)
    inference = load_tool('tools/deployment/onnx_inference.py')
    inference.main([out, run.config, run.checkpoint, '--images', *images,
                    '--cfg-options', *run.cfg_options])  # fmt: skip
    printed = capsys.readouterr().out
    assert f'{task}, 4 image(s): same predictions' in printed, printed
    diffs = [
        float(x.split()[-1]) for x in printed.split('max abs diff ')[1].split('\n')[0].split(',')
    ]
    assert max(diffs) <= 1e-4, printed
    if task == 'detection':  # a trained detector finds the shapes
        assert 'instances_total 0)' not in printed
