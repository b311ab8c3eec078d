"""The published reference numbers: metafiles, the paper's SMT-vs-Swin claims, README tables.

The per-config numbers (parameters, FLOPs, accuracies, mAPs, mIoUs as published) live in one place,
the mim-style ``configs/*/metafile.yml`` files collected by the root ``model-index.yml``. This
module reads them, holds the headline claims of the paper (which compare two of those rows) and
renders the README's "Results (paper)" tables from them.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmengine.fileio import load

README_START = '<!-- results:start -->'
README_END = '<!-- results:end -->'

#: Task of a metafile, named after the config folder that holds it.
TASKS = ('classification', 'detection', 'segmentation')

_TASK_TITLES = {
    'classification': 'ImageNet classification',
    'detection': 'COCO object detection and instance segmentation (Mask R-CNN)',
    'segmentation': 'ADE20K semantic segmentation (UPerNet, 160k iterations)',
}
_BACKBONE_PATTERN = re.compile(r'(smt|swin)_([tsbl])(?:_|$)')
_SIZE_NAMES = {'t': 'T', 's': 'S', 'b': 'B', 'l': 'L'}


def repo_root() -> Path:
    """Return the root of the smt_mm source tree (the folder holding ``model-index.yml``).

    Returns:
        Path: The repository root.
    """
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PaperModel:
    """One ``Models`` entry of a metafile: a shipped config and its published numbers.

    Args:
        name (str): Model name, equal to the config file's stem.
        task (str): One of :data:`TASKS` (the config folder).
        collection (str): The metafile collection (e.g. ``'SMT Mask R-CNN'``).
        config (str): Config path relative to the repository root.
        metadata (dict): The entry's ``Metadata`` (``FLOPs``, ``Parameters``, ``Input Size``...).
        metrics (dict): Every metric of every ``Results`` item, by metric name.
        weights (str, optional): URL of the released checkpoint. Defaults to None.
        source (str): Where the numbers come from. Defaults to ``''``.
    """

    name: str
    task: str
    collection: str
    config: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    weights: str | None = None
    source: str = ''

    @property
    def params(self) -> int | None:
        """int, optional: The published parameter count."""
        return self.metadata.get('Parameters')

    @property
    def flops(self) -> int | None:
        """int, optional: The published FLOPs (one multiply-add counted as one FLOP)."""
        return self.metadata.get('FLOPs')

    @property
    def input_size(self) -> tuple[int, int] | None:
        """tuple, optional: ``(width, height)`` at which the paper counts FLOPs."""
        return parse_input_size(self.metadata.get('Input Size'))

    @property
    def backbone(self) -> str:
        """str: A display name of the backbone, e.g. ``'SMT-B'`` or ``'Swin-S'``."""
        match = _BACKBONE_PATTERN.search(self.name)
        if match is None:
            return self.name
        family, size = match.groups()
        return f'{"SMT" if family == "smt" else "Swin"}-{_SIZE_NAMES[size]}'


def parse_input_size(value: int | str | None) -> tuple[int, int] | None:
    """Parse a metafile ``Input Size`` (``224`` or ``'1280x800'``, width first).

    Args:
        value (int | str, optional): The metafile value.

    Returns:
        tuple, optional: ``(width, height)``, or None when ``value`` is None.
    """
    if value is None:
        return None
    if isinstance(value, int):
        return value, value
    width, height = (int(side) for side in str(value).lower().split('x'))
    return width, height


def load_model_index(index_file: str | Path | None = None) -> dict[str, PaperModel]:
    """Read ``model-index.yml`` and every metafile it imports.

    Args:
        index_file (str | Path, optional): Path of ``model-index.yml``. Defaults to None, the one at
            :func:`repo_root`.

    Returns:
        dict[str, PaperModel]: The models by name, in metafile order.

    Raises:
        ValueError: A model name appears twice or a metafile sits outside a task folder.
    """
    index_path = Path(index_file) if index_file is not None else repo_root() / 'model-index.yml'
    root = index_path.parent
    index = load(str(index_path))
    models: dict[str, PaperModel] = {}
    for metafile in index['Import']:
        task = Path(metafile).parent.name
        if task not in TASKS:
            raise ValueError(f'{metafile}: metafiles live in configs/{{{",".join(TASKS)}}}/')
        content = load(str(root / metafile))
        for entry in content['Models']:
            if entry['Name'] in models:
                raise ValueError(f'{metafile}: model {entry["Name"]!r} is defined twice')
            metrics: dict[str, float] = {}
            for result in entry.get('Results', []):
                metrics.update(result['Metrics'])
            models[entry['Name']] = PaperModel(
                name=entry['Name'],
                task=task,
                collection=entry['In Collection'],
                config=entry['Config'],
                metadata=entry.get('Metadata', {}),
                metrics=metrics,
                weights=entry.get('Weights'),
                source=entry.get('Results Source', ''),
            )
    return models


@dataclass(frozen=True)
class Claim:
    """A headline claim of the paper: SMT beats a Swin baseline by ``delta`` on one metric.

    Args:
        title (str): Short description shown in the report.
        metric (str): Metafile metric name (``'box AP'``, ``'mIoU'``, ``'mIoU(ms+flip)'``).
        smt (str): Model name of the SMT run.
        baseline (str): Model name of the Swin run.
        delta (float): The claimed ``smt - baseline`` difference, in points.
        source (str): Where the paper states it.
    """

    title: str
    metric: str
    smt: str
    baseline: str
    delta: float
    source: str


#: The SMT-vs-Swin claims of the abstract. Each pairs SMT-B with Swin-S: the 3x detection and both
#: segmentation deltas equal the difference of those two published rows; the 1x detection row of
#: SMT-B is not public, so +4.2 is taken from the abstract with the same pairing.
CLAIMS = (
    Claim(
        title='Mask R-CNN 1x: SMT-B vs Swin-S, box AP',
        metric='box AP',
        smt='mask_rcnn_smt_b_1x',
        baseline='mask_rcnn_swin_s_1x',
        delta=4.2,
        source='abstract',
    ),
    Claim(
        title='Mask R-CNN 3x: SMT-B vs Swin-S, box AP',
        metric='box AP',
        smt='mask_rcnn_smt_b_3x',
        baseline='mask_rcnn_swin_s_3x',
        delta=1.3,
        source='abstract; Table 3',
    ),
    Claim(
        title='UPerNet single-scale: SMT-B vs Swin-S, mIoU',
        metric='mIoU',
        smt='upernet_smt_b_512x512_160k_ade20k',
        baseline='upernet_swin_s_512x512_160k_ade20k',
        delta=2.0,
        source='abstract; Table 5',
    ),
    Claim(
        title='UPerNet multi-scale: SMT-B vs Swin-S, mIoU(ms+flip)',
        metric='mIoU(ms+flip)',
        smt='upernet_smt_b_512x512_160k_ade20k',
        baseline='upernet_swin_s_512x512_160k_ade20k',
        delta=1.1,
        source='abstract; Table 5',
    ),
)


def format_count(value: float | None) -> str:
    """Format a parameter or FLOP count with the paper's precision, e.g. ``11.5M`` or ``1004G``.

    Args:
        value (float, optional): The count. None gives ``'-'``.

    Returns:
        str: The count in M below 1e9, in G from 1e9 on.
    """
    if value is None:
        return '-'
    if value >= 1e9:
        return f'{value / 1e9:.4g}G'
    return f'{value / 1e6:.4g}M'


def _metric_columns(models: Iterable[PaperModel]) -> list[str]:
    columns: list[str] = []
    for model in models:
        columns += [name for name in model.metrics if name not in columns]
    return columns


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

    Args:
        models (Mapping[str, PaperModel]): Models from :func:`load_model_index`.

    Returns:
        str: Markdown, one ``####`` section per task.
    """
    sections = []
    for task in TASKS:
        rows = [model for model in models.values() if model.task == task]
        if not rows:
            continue
        metric_names = _metric_columns(rows)
        with_weights = any(model.weights for model in rows)
        header = ['Config', 'Backbone', 'Schedule', 'Input', 'Params', 'FLOPs', *metric_names]
        if with_weights:
            header.append('Weights')
        lines = [
            f'#### {_TASK_TITLES[task]}',
            '',
            '| ' + ' | '.join(header) + ' |',
            '|' + '|'.join([':--'] * 3 + [':-:'] * (len(header) - 3)) + '|',
        ]
        for model in rows:
            size = model.input_size
            cells = [
                f'[{model.name}]({model.config})',
                model.backbone,
                _schedule(model),
                f'{size[0]}x{size[1]}' if size else '-',
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
    """Replace what lies between the README's result markers with ``tables``.

    Args:
        text (str): The README's text.
        tables (str): Markdown from :func:`results_markdown`.

    Returns:
        str: The README's text with the new tables.

    Raises:
        ValueError: The markers are missing or out of order.
    """
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f'README needs the markers {README_START} ... {README_END}, in this order')
    return f'{text[: start + len(README_START)]}\n{tables}{text[end:]}'
