"""Print the paper's results tables generated from the metafiles, or write them into README.md.

Examples:
    python .dev_scripts/readme_tables.py            # print the tables
    python .dev_scripts/readme_tables.py --write    # replace them in README.md between markers
"""

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

from smt_mm.analysis.paper import TASKS, PaperModel, format_count, load_model_index

ROOT = Path(__file__).resolve().parents[1]
README_START = '<!-- results:start -->'
README_END = '<!-- results:end -->'
TASK_TITLES = {
    'classification': 'ImageNet classification',
    'detection': 'COCO object detection and instance segmentation',
    'segmentation': 'ADE20K semantic segmentation (UPerNet, 160k iterations)',
}


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


def results_markdown(models: Mapping[str, PaperModel]) -> str:
    """Render the published numbers of every model as one Markdown table per task.

    Input sizes are written width first, as the papers and the metafiles write them.
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
        lines = [
            f'#### {TASK_TITLES[task]}',
            '',
            '| ' + ' | '.join(header) + ' |',
            '|' + '|'.join([':--'] * 3 + [':-:'] * (len(header) - 3)) + '|',
        ]
        for model in rows:
            size = model.input_size
            cells = [
                f'[{model.name}]({model.config})',
                backbone(model),
                _schedule(model),
                f'{size[1]}x{size[0]}' if size else '-',
                format_count(model.params),
                format_count(model.flops),
                *(str(model.metrics.get(name, '-')) for name in metric_names),
            ]
            if with_weights:
                cells.append(f'[official]({model.weights})' if model.weights else '-')
            lines.append('| ' + ' | '.join(cells) + ' |')
        sections.append('\n'.join(lines))
    return '\n\n'.join(sections) + '\n'


def update_readme(text: str, tables: str) -> str:
    """Replace what lies between the README's result markers with ``tables``."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f'README needs the markers {README_START} ... {README_END}, in this order')
    return f'{text[: start + len(README_START)]}\n{tables}{text[end:]}'


def main() -> None:
    """Print the tables, or write them into README.md with ``--write``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write', action='store_true', help='update README.md in place')
    args = parser.parse_args()
    tables = results_markdown(load_model_index(ROOT / 'model-index.yml'))
    if not args.write:
        print(tables, end='')
        return
    readme = ROOT / 'README.md'
    readme.write_text(update_readme(readme.read_text(), tables))
    print(f'updated {readme}')


if __name__ == '__main__':
    main()
