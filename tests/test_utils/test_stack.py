"""The OpenMMLab stack: every toolbox imports, mmcv's compiled ops run, versions are checked."""

import importlib
import subprocess
import sys

import pytest
import torch

from smt_mm.utils import SUPPORTED_VERSIONS, StackVersionError, check_stack, compat, stack_summary
from smt_mm.utils.compat import TOOLBOXES


@pytest.mark.parametrize(
    'module', ['mmengine', 'mmcv', 'mmcv._ext', 'mmdet', 'mmseg', 'mmpretrain', 'smt_mm']
)
def test_toolboxes_import(module):
    importlib.import_module(module)


def test_register_all_modules_of_every_toolbox():
    from mmdet.utils import register_all_modules as register_mmdet
    from mmpretrain.utils import register_all_modules as register_mmpretrain
    from mmseg.utils import register_all_modules as register_mmseg

    for register in (register_mmdet, register_mmseg, register_mmpretrain):
        register(init_default_scope=False)


def test_nms_and_batched_nms():
    from mmcv.ops import batched_nms, nms

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert dets.shape == (2, 5)
    # The overlapping pair survives when the boxes belong to different classes.
    _, keep = batched_nms(boxes, scores, torch.tensor([0, 1, 0]), dict(iou_threshold=0.5))
    assert sorted(keep.tolist()) == [0, 1, 2]


def test_roi_align_forward_backward():
    from mmcv.ops import RoIAlign

    feats = torch.arange(64, dtype=torch.float32).reshape(1, 1, 8, 8).requires_grad_()
    rois = torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]])
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=False)(feats, rois)
    assert out.shape == (1, 1, 2, 2)
    # Bins of a linear ramp: their averages increase left to right and top to bottom.
    assert out[0, 0, 0, 0] < out[0, 0, 0, 1] < out[0, 0, 1, 1]
    out.sum().backward()
    assert feats.grad is not None
    assert feats.grad[0, 0, :5, :5].sum() > 0
    assert feats.grad[0, 0, 6:, 6:].abs().sum() == 0


def test_installed_stack_is_supported():
    check_stack()
    summary = stack_summary()
    for name in SUPPORTED_VERSIONS:
        assert name in summary


def test_version_check_names_package_version_range_and_fix():
    versions = {name: low for name, (low, _) in SUPPORTED_VERSIONS.items()}
    check_stack(versions)
    versions['mmcv'] = '2.2.0'
    versions['mmengine'] = None
    versions['mmsegmentation'] = '0.30.0'
    with pytest.raises(StackVersionError) as err:
        check_stack(versions)
    message = str(err.value)
    assert 'mmcv: found 2.2.0, supported >=2.0.0,<2.2.0' in message
    assert 'mim install "mmcv>=2.0.0,<2.2.0"' in message
    assert 'mmengine: found nothing (not installed)' in message
    assert 'mmsegmentation: found 0.30.0, supported >=1.0.0,<1.3.0' in message
    assert 'mmdet' not in message


def test_version_check_skips_toolboxes_that_are_not_installed():
    versions = {name: low for name, (low, _) in SUPPORTED_VERSIONS.items()}
    check_stack({**versions, **dict.fromkeys(TOOLBOXES)})


#: Runs in a fresh interpreter with the toolboxes of HIDDEN made unimportable.
HIDDEN_TOOLBOX_SCRIPT = """
import sys
for name in {hidden!r}:
    sys.modules[name] = None  # `import name` now fails as if it were not installed
from mmengine.config import Config
from mmengine.registry import METRICS, MODELS

cfg = Config(dict(custom_imports=dict(imports=['smt_mm'], allow_failed_imports=False)))
import smt_mm
assert smt_mm.stack_summary()
model = MODELS.build(dict(type='SMT', arch='tiny', out_indices=(3,)))
for scope in {available!r}:
    registry = __import__(scope + '.registry', fromlist=['MODELS'])
    assert type(registry.MODELS.build(dict(type='SMT'))) is type(model), scope
assert ('CheckedIoUMetric' in METRICS) == ('mmseg' in {available!r})
assert 'smt_mm.visualization.visualizers' not in sys.modules  # imported when first built
for scope, visualizer in (('mmdet', 'SMTDetLocalVisualizer'), ('mmseg', 'SMTSegLocalVisualizer')):
    if scope in {available!r}:  # the --show-dir visualisers
        registry = __import__(scope + '.registry', fromlist=['VISUALIZERS']).VISUALIZERS
        assert visualizer in registry
        built = registry.build(dict(type=visualizer, name='show_dir_' + scope))
        assert type(built).__name__ == visualizer and built.__module__.startswith('smt_mm.'), built
assert not {hidden!r} or all(sys.modules[name] is None for name in {hidden!r})
print('ok')
"""


@pytest.mark.parametrize(
    'hidden', [('mmdet',), ('mmseg',), ('mmpretrain',), ('mmdet', 'mmseg', 'mmpretrain')]
)
def test_import_works_without_each_toolbox(hidden):
    available = [m for m, _ in TOOLBOXES.values() if m not in hidden]
    script = HIDDEN_TOOLBOX_SCRIPT.format(hidden=list(hidden), available=available)
    result = subprocess.run(
        [sys.executable, '-c', script], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('ok')


def test_a_toolbox_that_is_installed_but_broken_is_an_error(monkeypatch):
    def fail(name):
        raise ModuleNotFoundError("No module named 'ftfy'", name='ftfy')

    monkeypatch.setattr(compat.importlib, 'import_module', fail)
    with pytest.raises(
        ImportError,
        match=r'mmsegmentation is installed but does not import.*'
        r'smt_mm\[seg\]',
    ):
        compat.toolbox_available('mmsegmentation')
    monkeypatch.setattr(
        compat.importlib,
        'import_module',
        lambda name: (_ for _ in ()).throw(ModuleNotFoundError('gone', name=name)),
    )
    assert not compat.toolbox_available('mmdet')


def test_mmcv_lite_counts_as_mmcv(monkeypatch):
    def version(dist):
        if dist == 'mmcv-lite':
            return '2.1.0'
        raise compat.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(compat.metadata, 'version', version)
    assert compat.installed_version('mmcv') == '2.1.0'
    assert compat.installed_version('mmdet') is None
