"""Metafiles and the model index agree with each other and with the configs of the repo.

The paper tables of README.md and docs/results.md, generated from the metafiles, are checked by
``tests/test_analysis/test_readme_tables.py``.
"""

from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from smt_mm.analysis.paper import CLAIMS, TASKS, load_model_index, parse_input_size

ROOT = Path(REPO_ROOT)
OFFICIAL_RELEASE = 'https://github.com/AFeng-x/SMT/releases/download/v1.0.0/'


@pytest.fixture(scope='module')
def models():
    return load_model_index(ROOT / 'model-index.yml')


def test_model_index_imports_every_metafile():
    imported = yaml.safe_load((ROOT / 'model-index.yml').read_text())['Import']
    on_disk = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob('configs/*/metafile.yml'))
    assert sorted(imported) == on_disk
    assert {Path(path).parent.name for path in imported} == set(TASKS)


@pytest.mark.parametrize('task', TASKS)
def test_metafile_structure(task):
    content = yaml.safe_load((ROOT / 'configs' / task / 'metafile.yml').read_text())
    collections = {collection['Name'] for collection in content['Collections']}
    for entry in content['Models']:
        assert entry['In Collection'] in collections, entry['Name']
        assert entry['Config'] == f'configs/{task}/{entry["Name"]}.py'
        assert entry['Results Source'], f'{entry["Name"]}: say where the numbers come from'
        metadata = entry['Metadata']
        assert parse_input_size(metadata['Input Size']) is not None
        for key in ('FLOPs', 'Parameters'):
            assert key not in metadata or isinstance(metadata[key], int), (entry['Name'], key)
        for result in entry.get('Results', []):
            assert set(result) == {'Task', 'Dataset', 'Metrics'}
            assert all(0 < value < 100 for value in result['Metrics'].values())


def test_every_metafile_config_exists_and_every_config_is_indexed(models):
    indexed = {Path(model.config) for model in models.values()}
    missing = sorted(str(path) for path in indexed if not (ROOT / path).is_file())
    assert not missing, f'metafile entries without a config: {missing}'
    # ``*_toy.py`` configs train on the generated toy data (demos, tests): no paper row.
    shipped = {
        path.relative_to(ROOT)
        for task in TASKS
        for path in (ROOT / 'configs' / task).glob('*.py')
        if not path.stem.endswith('_toy')
    }
    assert not shipped - indexed, f'configs without a metafile entry: {sorted(shipped - indexed)}'


def test_weights_are_official_classification_releases_only(models):
    for model in models.values():
        if model.task == 'classification' and model.name != 'smt_l_in1k_224':
            assert model.weights and model.weights.startswith(OFFICIAL_RELEASE), model.name
        else:
            assert model.weights is None, f'{model.name}: no released weights exist'


def test_claims_agree_with_the_published_rows(models):
    for claim in CLAIMS:
        smt, baseline = models[claim.smt], models[claim.baseline]
        if claim.metric in smt.metrics and claim.metric in baseline.metrics:
            published = smt.metrics[claim.metric] - baseline.metrics[claim.metric]
            assert published == pytest.approx(claim.delta, abs=0.05), claim.title
    # The one claim without an SMT row is the 1x detection one.
    without_row = [c for c in CLAIMS if c.metric not in models[c.smt].metrics]
    assert [c.smt for c in without_row] == ['mask_rcnn_smt_b_1x']
