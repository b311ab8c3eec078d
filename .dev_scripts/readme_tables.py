"""Print the generated tables of the docs, or write them into the pages.

Each table lies between its own markers: docs/results.md every published row of every config,
README.md the headline (ImageNet top-1 and the paper's SMT-vs-Swin claims), both from the
metafiles; docs/detection.md and docs/segmentation.md the last demo run of each task, from
docs/demo_results.json (the files ``make demo`` / ``make demo-seg`` write, with date, command
and load average). ``tests/test_analysis/test_readme_tables.py`` fails when a page drifts.

Examples:
    python .dev_scripts/readme_tables.py            # print the tables
    python .dev_scripts/readme_tables.py --write    # replace them in the pages
    # after make demo: record its results, then rewrite docs/detection.md
    python .dev_scripts/readme_tables.py --demo work_dirs/demo_det/demo_results.json --write
"""

import argparse
import json
import re
from collections.abc import Mapping
from pathlib import Path

from smt_mm.analysis.paper import CLAIMS, TASKS, PaperModel, format_count, load_model_index
from smt_mm.demo import demo_markdown

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
RESULTS_PAGE = ROOT / 'docs' / 'results.md'
#: Markers around the generated text of docs/results.md (every row) and README.md (headline).
RESULTS_MARKERS = ('<!-- results:start -->', '<!-- results:end -->')
HEADLINE_MARKERS = ('<!-- headline:start -->', '<!-- headline:end -->')
#: The demo results the docs quote: task -> the record the demo wrote (smt_mm.demo.RESULTS_FILE).
DEMO_RESULTS = ROOT / 'docs' / 'demo_results.json'
DEMO_PAGES = {'detection': ROOT / 'docs' / 'detection.md',
              'segmentation': ROOT / 'docs' / 'segmentation.md'}  # fmt: skip
DEMO_MARKERS = ('<!-- demo:start -->', '<!-- demo:end -->')
TASK_TITLES = {
    'classification': 'ImageNet classification',
    'detection': 'COCO object detection and instance segmentation',
    'segmentation': 'ADE20K semantic segmentation (UPerNet, 160k iterations)',
}
TOP1 = 'Top 1 Accuracy'


def backbone(model: PaperModel) -> str:
    """A display name of a model's backbone, e.g. ``'SMT-B'`` or ``'Swin-S'``."""
    match = re.search(r'(smt|swin)_([tsbl])(?:_|$)', model.name)
    if match is None:
        return model.name
    family, size = match.groups()
    return f'{"SMT" if family == "smt" else "Swin"}-{size.upper()}'


def _schedule(model: PaperModel) -> str:
    data = model.metadata.get('Training Data', '')
    data = ' → '.join(data) if isinstance(data, list) else data
    if 'Iterations' in model.metadata:
        return f'{model.metadata["Iterations"] // 1000}k it'
    epochs = model.metadata.get('Epochs')
    if model.task == 'detection' and epochs:
        return f'{epochs // 12}x'
    return f'{data}, {epochs} ep' if epochs else data


def _table(header: list[str], rows: list[list[str]], left: int) -> list[str]:
    """Markdown table lines: the first ``left`` columns left-aligned, the others centred."""
    return [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join([':--'] * left + [':-:'] * (len(header) - left)) + '|',
        *('| ' + ' | '.join(cells) + ' |' for cells in rows),
    ]


def results_markdown(models: Mapping[str, PaperModel], link_prefix: str = '') -> str:
    """Render the published numbers of every model as one Markdown table per task.

    Input sizes are written width first, as the papers and the metafiles write them.
    ``link_prefix`` leads from the page that shows the tables to the repository root
    (``'../'`` for a page in docs/).
    """
    sections = []
    for task in TASKS:
        rows = [model for model in models.values() if model.task == task]
        if not rows:
            continue
        metric_names = list(dict.fromkeys(name for model in rows for name in model.metrics))
        with_weights = any(model.weights for model in rows)
        header = ['Config', 'Backbone', 'Schedule', 'Input', 'Params', 'FLOPs', *metric_names]
        header += ['Weights'] * with_weights
        cells = []
        for model in rows:
            size = model.input_size
            row = [
                f'[{model.name}]({link_prefix}{model.config})',
                backbone(model),
                _schedule(model),
                f'{size[1]}x{size[0]}' if size else '-',
                format_count(model.params),
                format_count(model.flops),
                *(str(model.metrics.get(name, '-')) for name in metric_names),
            ]
            if with_weights:
                row.append(f'[official]({model.weights})' if model.weights else '-')
            cells.append(row)
        sections.append('\n'.join([f'#### {TASK_TITLES[task]}', '', *_table(header, cells, 3)]))
    return '\n\n'.join(sections) + '\n'


def headline_markdown(models: Mapping[str, PaperModel], link_prefix: str = '') -> str:
    """Render the headline: ImageNet top-1 of every SMT with one, and the paper's claims vs Swin.

    A claim whose SMT row is not published (SMT-B Mask R-CNN 1x) shows ``-`` there and the
    claimed difference, which the paper states in its abstract.
    """

    def linked(model: PaperModel, text: str) -> str:
        return f'[{text}]({link_prefix}{model.config})'

    imagenet = []
    for model in models.values():
        if model.task == 'classification' and TOP1 in model.metrics:
            height, width = model.input_size or ('-', '-')
            imagenet.append([
                linked(model, model.name), backbone(model), f'{width}x{height}',
                format_count(model.params), format_count(model.flops), str(model.metrics[TOP1]),
            ])  # fmt: skip
    claims = []
    for claim in CLAIMS:
        smt, baseline = models[claim.smt], models[claim.baseline]
        value = smt.metrics.get(claim.metric)
        claims.append([
            claim.title,
            linked(smt, str(value)) if value is not None else '-',
            linked(baseline, str(baseline.metrics[claim.metric])),
            f'{claim.delta:+.1f}',
        ])  # fmt: skip
    lines = [
        '#### ImageNet-1k classification',
        '',
        *_table(['Config', 'Backbone', 'Input', 'Params', 'FLOPs', 'Top-1 (%)'], imagenet, 2),
        '',
        "#### SMT against Swin: the paper's claims",
        '',
        *_table(['Claim', 'SMT', 'Swin', 'SMT − Swin'], claims, 1),
    ]
    return '\n'.join(lines) + '\n'


def replace_between(text: str, generated: str, markers: tuple[str, str]) -> str:
    """Replace what lies between ``markers`` (start, end) in ``text`` with ``generated``."""
    start_marker, end_marker = markers
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f'the page needs the markers {start_marker} ... {end_marker}, in order')
    return f'{text[: start + len(start_marker)]}\n{generated}{text[end:]}'


def load_demo_results() -> dict[str, dict]:
    """The demo results the docs quote, by task (docs/demo_results.json)."""
    return json.loads(DEMO_RESULTS.read_text())


def record_demo_results(path: Path) -> str:
    """Put a demo run's results file into docs/demo_results.json; return its task."""
    record = json.loads(path.read_text())
    results = load_demo_results()
    results[record['task']] = record
    DEMO_RESULTS.write_text(json.dumps(results, indent=2) + '\n')
    return record['task']


def generated_pages(models: Mapping[str, PaperModel]) -> dict[Path, tuple[str, tuple[str, str]]]:
    """Each page with generated tables: its generated text and the markers that hold it."""
    demos = load_demo_results()
    return {
        README: (headline_markdown(models), HEADLINE_MARKERS),
        RESULTS_PAGE: (results_markdown(models, link_prefix='../'), RESULTS_MARKERS),
        **{page: (demo_markdown(demos[task]), DEMO_MARKERS) for task, page in DEMO_PAGES.items()},
    }


def main() -> None:
    """Print the tables, or write them into their pages with ``--write``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write', action='store_true', help='update the pages in place')
    parser.add_argument(
        '--demo', type=Path, nargs='+', default=[],
        help="record these demo results files (<work_dir>/demo_results.json) first",
    )  # fmt: skip
    args = parser.parse_args()
    for path in args.demo:
        print(f'recorded the {record_demo_results(path)} demo of {path} in {DEMO_RESULTS}')
    pages = generated_pages(load_model_index(ROOT / 'model-index.yml'))
    for page, (generated, markers) in pages.items():
        if not args.write:
            print(f'<!-- {page.relative_to(ROOT)} -->\n{generated}')
            continue
        page.write_text(replace_between(page.read_text(), generated, markers))
        print(f'updated {page}')


if __name__ == '__main__':
    main()
