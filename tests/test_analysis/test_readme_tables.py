"""README's paper tables (written by .dev_scripts/readme_tables.py) agree with the metafiles."""

from pathlib import Path

import pytest
from conftest import REPO_ROOT, load_tool

from smt_mm.analysis.paper import CLAIMS, load_model_index

ROOT = Path(REPO_ROOT)


def _load_script():
    return load_tool('.dev_scripts/readme_tables.py')


@pytest.fixture(scope='module')
def script():
    return _load_script()


@pytest.fixture(scope='module')
def models():
    return load_model_index(ROOT / 'model-index.yml')


def test_readme_tables_match_the_metafiles(script, models):
    readme = (ROOT / 'README.md').read_text()
    assert script.README_START in readme and script.README_END in readme
    assert readme == script.update_readme(readme, script.results_markdown(models)), (
        'README.md results tables differ from the metafiles; run '
        '`python .dev_scripts/readme_tables.py --write`'
    )


def test_results_markdown_shows_every_model_and_metric(script, models):
    tables = script.results_markdown(models)
    for model in models.values():
        assert f'[{model.name}]({model.config})' in tables
        for value in model.metrics.values():
            assert f' {value} |' in tables
    row = next(line for line in tables.splitlines() if '[mask_rcnn_smt_b_3x]' in line)
    assert '| SMT-B | 3x | 1280x800 | 52M | 328G | 49.8 | 44.0 |' in row


def test_claims_name_the_backbones_they_pair(script, models):
    for claim in CLAIMS:
        smt, baseline = (script.backbone(models[name]) for name in (claim.smt, claim.baseline))
        assert f': {smt} vs {baseline},' in claim.title
        assert (smt, baseline) in {('SMT-B', 'Swin-S'), ('SMT-S', 'Swin-T')}
    assert sum(claim.smt.startswith(('mask_rcnn_smt_b', 'upernet')) for claim in CLAIMS) == 4


def test_update_readme_replaces_only_between_markers(script):
    start, end = script.README_START, script.README_END
    text = f'intro\n{start}\nold\n{end}\noutro\n'
    assert script.update_readme(text, 'new\n') == f'intro\n{start}\nnew\n{end}\noutro\n'
    with pytest.raises(ValueError, match='markers'):
        script.update_readme('no markers', 'new\n')
