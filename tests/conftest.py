"""Shared pytest set-up: the repository root and a loader for the command-line tools.

Importing smt_mm here registers the backbone and the safe checkpoint loader for every test.
Test modules that need the root at import time (to list configs for ``parametrize``) import
:data:`REPO_ROOT` from here; tests use the ``repo_root`` and ``load_tool`` fixtures. The trained
toy models (``toy_detection_run``, ``toy_segmentation_run``, ``toy_classification_run``: see
``toy_runs.py``) are trained once per session, for every slow test that needs one.
"""

import importlib.util
import os
import os.path as osp
import re
from types import ModuleType

# One thread per math library in every test process and every process a test starts (set before
# torch is imported): on 2 cores, pytest-xdist's two workers plus torch's own threads would
# oversubscribe the machine (the backbone unit tests took 8x longer with torch's default threads
# on a busy machine). An explicit OMP_NUM_THREADS in the caller's environment wins.
for _var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import pytest  # noqa: E402
from toy_runs import (  # noqa: E402
    ToyRun,
    train_classification,
    train_detection,
    train_segmentation,
)

import smt_mm  # noqa: E402,F401

#: The repository root (``configs/``, ``tools/``, ``tests/``).
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str) -> ModuleType:
    """Import a script of the repository as a module, e.g. ``load_tool('tools/test.py')``."""
    name = 'tool_' + re.sub(r'\W', '_', osp.splitext(path)[0])
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, path))
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(name='repo_root')
def fixture_repo_root() -> str:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(name='load_tool')
def fixture_load_tool():
    """:func:`load_tool`: a script of ``tools/`` imported as a module."""
    return load_tool


@pytest.fixture(scope='session')
def toy_detection_run(tmp_path_factory) -> ToyRun:
    """SMT-T Mask R-CNN trained on the toy COCO (slow: train once, share)."""
    return train_detection(str(tmp_path_factory.mktemp('toy_detection')))


@pytest.fixture(scope='session')
def toy_segmentation_run(tmp_path_factory) -> ToyRun:
    """SMT-T UPerNet trained on the toy ADE20K (slow: train once, share)."""
    return train_segmentation(str(tmp_path_factory.mktemp('toy_segmentation')))


@pytest.fixture(scope='session')
def toy_classification_run(tmp_path_factory) -> ToyRun:
    """SMT-T classifier trained on the toy ImageNet (slow: train once, share)."""
    return train_classification(str(tmp_path_factory.mktemp('toy_classification')))


#: The session fixtures that train a model: under pytest-xdist (``make test`` runs two workers)
#: every test that needs one runs on the same worker, so each model is trained once.
TOY_RUN_FIXTURES = ('toy_detection_run', 'toy_segmentation_run', 'toy_classification_run')
#: The groups that take longest (measured with ``--durations``), started first so that the
#: workers finish together (``make test`` passes ``--no-loadscope-reorder``, which keeps this
#: order; pytest-xdist's default would start the groups with the most tests first).
LONGEST_FIRST = (
    'toy_detection_run',  # Mask R-CNN, then ATSS on its backbone
    'toy_segmentation_run',
    'test_smt',  # torch.compile with inductor
    'test_apis.test_demo',
    'toy_classification_run',
    'test_reliability.test_faults',
    'test_detection.test_tools_run_every_detector',
    'test_detection.test_toy_pipeline',
    'test_analysis.test_compare',
)


def _group(item: pytest.Item) -> str:
    """The xdist group of a test: a shared toy run it uses, else its module."""
    marker = item.get_closest_marker('xdist_group')
    if marker is not None:
        return marker.args[0] if marker.args else marker.kwargs.get('name', 'default')
    return next((name for name in TOY_RUN_FIXTURES if name in item.fixturenames), None) or (
        item.module.__name__
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Group tests for pytest-xdist's ``--dist loadgroup`` and start the longest groups first.

    A test that uses a trained toy model joins that model's group; every other test joins its
    module's group, so that module-scoped fixtures (generated datasets, built models) are set up
    once. An explicit ``@pytest.mark.xdist_group`` wins. The groups of :data:`LONGEST_FIRST`
    move to the front, in that order; the rest keep theirs.
    """
    for item in items:
        if item.get_closest_marker('xdist_group') is None:
            item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable within a rank
