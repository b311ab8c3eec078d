"""The generated tables (.dev_scripts/readme_tables.py) agree with the metafiles and demo records.

docs/results.md holds every published row, README.md the headline (ImageNet top-1, the claims),
docs/detection.md and docs/segmentation.md the last recorded demo runs (docs/demo_results.json).
"""

import json
import re
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


def test_generated_tables_match_the_metafiles(script, models):
    pages = script.generated_pages(models)
    assert {page.relative_to(ROOT).as_posix() for page in pages} == {
        'README.md', 'docs/results.md', 'docs/detection.md', 'docs/segmentation.md'
    }  # fmt: skip
    for page, (generated, markers) in pages.items():
        text = page.read_text()
        assert all(marker in text for marker in markers), page
        assert text == script.replace_between(text, generated, markers), (
            f'{page.name}: the generated tables differ from the metafiles or '
            'docs/demo_results.json; run `python .dev_scripts/readme_tables.py --write`'
        )


def test_demo_records_name_their_run(script):
    """Each quoted demo run says when, with what command, how long and how loaded."""
    for task, record in script.load_demo_results().items():
        assert record['task'] == task and record['command'].startswith(
            f'python tools/demo.py {task}'
        )
        assert re.fullmatch(r'\d{4}-\d{2}-\d{2}', record['date'])
        assert record['max_iters'] > 0 and min(record['load_average']) >= 0  # start, end
        markdown = script.demo_markdown(record)
        assert f'Measured on {record["date"]} with `{record["command"]}`' in markdown
        for column in record['columns'].values():
            for value in column.values():
                assert f'{value:.{record["digits"]}f}' in markdown


def test_a_demo_run_is_recorded_under_its_task(script, tmp_path, monkeypatch):
    results = tmp_path / 'demo_results.json'
    results.write_text(json.dumps({'detection': {'task': 'detection', 'old': True}}))
    monkeypatch.setattr(script, 'DEMO_RESULTS', results)
    run = tmp_path / 'run.json'
    run.write_text(json.dumps({'task': 'segmentation', 'columns': {}}))
    assert script.record_demo_results(run) == 'segmentation'
    assert json.loads(results.read_text()) == {
        'detection': {'task': 'detection', 'old': True},
        'segmentation': {'task': 'segmentation', 'columns': {}},
    }


def test_results_markdown_shows_every_model_and_metric(script, models):
    tables = script.results_markdown(models, link_prefix='../')
    for model in models.values():
        assert f'[{model.name}](../{model.config})' in tables
        for value in model.metrics.values():
            assert f' {value} |' in tables
    row = next(line for line in tables.splitlines() if '[mask_rcnn_smt_b_3x]' in line)
    assert '| SMT-B | 3x | 1280x800 | 52M | 328G | 49.8 | 44.0 |' in row


def test_headline_shows_imagenet_top1_and_every_claim(script, models):
    headline = script.headline_markdown(models)
    lines = headline.splitlines()
    tiny = next(line for line in lines if line.startswith('| [smt_t_in1k_224]'))
    assert tiny == (
        '| [smt_t_in1k_224](configs/classification/smt_t_in1k_224.py) '
        '| SMT-T | 224x224 | 11.5M | 2.4G | 82.2 |'
    )
    assert not any('[smt_l_in1k_224]' in line for line in lines)  # no published top-1
    for claim in CLAIMS:
        row = next(line for line in lines if line.startswith(f'| {claim.title} |'))
        assert row.endswith(f' | {claim.delta:+.1f} |')
    row_3x = next(line for line in lines if line.startswith('| Mask R-CNN 3x'))
    assert '[49.8](configs/detection/mask_rcnn_smt_b_3x.py)' in row_3x
    assert '[48.5](configs/detection/mask_rcnn_swin_s_3x.py)' in row_3x
    row_1x = next(line for line in lines if line.startswith('| Mask R-CNN 1x'))
    assert row_1x.startswith('| Mask R-CNN 1x: SMT-B vs Swin-S, box AP | - | [45.7]')


def test_claims_name_the_backbones_they_pair(script, models):
    for claim in CLAIMS:
        smt, baseline = (script.backbone(models[name]) for name in (claim.smt, claim.baseline))
        assert f': {smt} vs {baseline},' in claim.title
        assert (smt, baseline) in {('SMT-B', 'Swin-S'), ('SMT-S', 'Swin-T')}
    assert sum(claim.smt.startswith(('mask_rcnn_smt_b', 'upernet')) for claim in CLAIMS) == 4


def test_replace_between_replaces_only_between_markers(script):
    markers = start, end = script.RESULTS_MARKERS
    text = f'intro\n{start}\nold\n{end}\noutro\n'
    assert script.replace_between(text, 'new\n', markers) == f'intro\n{start}\nnew\n{end}\noutro\n'
    with pytest.raises(ValueError, match='markers'):
        script.replace_between('no markers', 'new\n', markers)
    with pytest.raises(ValueError, match='markers'):
        script.replace_between(f'{end}\n{start}\n', 'new\n', markers)
