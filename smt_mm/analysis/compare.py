"""Compare evaluation results with the paper: per-run differences and the SMT-vs-Swin claims.

``tools/test.py`` leaves one JSON file per evaluation in the work directory. This module reads
them with the metafiles' metric names (COCO mAPs in percent, ``(ms+flip)`` for a test-time
augmented run), pairs every run with the paper's row of its config and checks each claim of
:data:`~smt_mm.analysis.paper.CLAIMS` against the user's own SMT-minus-Swin difference.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # no pyplot: no backend or global figure state

from .paper import CLAIMS, Claim, PaperModel

#: Toolbox metric key -> (metafile metric name, factor to points). Test-time-augmented runs get
#: ``(ms+flip)`` appended to the name.
METRIC_KEYS = {
    'coco/bbox_mAP': ('box AP', 100.0),
    'coco/segm_mAP': ('mask AP', 100.0),
    'mIoU': ('mIoU', 1.0),
    'accuracy/top1': ('Top 1 Accuracy', 1.0),
    'accuracy/top5': ('Top 5 Accuracy', 1.0),
}
TTA_SUFFIX = '(ms+flip)'

#: How far (points) a measured SMT-minus-Swin difference may fall short of the claim and still
#: count as reproduced: about twice the seed-to-seed spread of box AP and mIoU (docs/reproduce.md).
DEFAULT_TOLERANCE = 0.5


@dataclass(frozen=True)
class EvalRecord:
    """One evaluation written by ``tools/test.py`` (its JSON file at ``path``).

    The evaluated ``config`` and ``checkpoint``, whether test-time augmentation (``tta``:
    multi-scale + flip) was on, the raw ``metrics`` as the evaluator named them and a sortable
    ``timestamp`` (``%Y%m%d_%H%M%S``).
    """

    path: Path
    config: str
    checkpoint: str | None
    tta: bool
    metrics: Mapping[str, Any]
    timestamp: str

    @property
    def name(self) -> str:
        """str: The config's stem, which is its model name in the metafiles."""
        return Path(self.config).stem

    @property
    def points(self) -> dict[str, float]:
        """dict: The paper-comparable metrics in points, by metafile metric name."""
        converted = {}
        for key, value in self.metrics.items():
            if key in METRIC_KEYS and isinstance(value, int | float):
                name, factor = METRIC_KEYS[key]
                converted[f'{name}{TTA_SUFFIX}' if self.tta else name] = value * factor
        return converted


def _read_record(path: Path) -> EvalRecord:
    data = json.loads(path.read_text())
    missing = {'config', 'metrics'} - set(data)
    if missing:
        raise ValueError(f'{path}: not an evaluation record of tools/test.py (missing {missing})')
    return EvalRecord(
        path=path,
        config=data['config'],
        checkpoint=data.get('checkpoint'),
        tta=bool(data.get('tta', False)),
        metrics=data['metrics'],
        timestamp=str(data.get('timestamp') or path.stem.removeprefix('eval_')),
    )


def find_eval_records(work_dirs: Iterable[str | Path]) -> list[EvalRecord]:
    """Collect the ``eval_*.json`` records, oldest first, under work directories or files.

    Raises:
        FileNotFoundError: A path does not exist or holds no record.
    """
    records = []
    for work_dir in map(Path, work_dirs):
        if not work_dir.exists():
            raise FileNotFoundError(f'{work_dir} does not exist')
        paths = [work_dir] if work_dir.is_file() else sorted(work_dir.rglob('eval_*.json'))
        if not paths:
            raise FileNotFoundError(
                f'{work_dir} holds no eval_*.json; evaluate with tools/test.py CONFIG CHECKPOINT '
                f'--work-dir {work_dir}'
            )
        records += [_read_record(path) for path in paths]
    return sorted(records, key=lambda record: record.timestamp)


@dataclass(frozen=True)
class ResultRow:
    """One ``metric`` (metafile name) of one run: ``ours`` next to the ``paper``'s figure.

    ``reference`` is the toolbox's own retrained baseline, given for Swin rows.
    """

    record: EvalRecord
    metric: str
    ours: float
    paper: float | None = None
    reference: float | None = None

    @property
    def difference(self) -> float | None:
        """float, optional: ``ours - paper``."""
        return None if self.paper is None else self.ours - self.paper


def result_rows(records: Iterable[EvalRecord], models: Mapping[str, PaperModel]) -> list[ResultRow]:
    """Pair every paper-comparable metric of every run with the figure of the model index."""
    rows = []
    for record in records:
        model = models.get(record.name)
        paper_metrics = model.metrics if model else {}
        for metric, ours in record.points.items():
            # the toolbox's own retrained run is named e.g. 'mIoU (mmseg)' in the metafile
            refs = [v for k, v in paper_metrics.items() if k.startswith(f'{metric} (')]
            paper = paper_metrics.get(metric)
            rows.append(ResultRow(record, metric, ours, paper, refs[0] if refs else None))
    return rows


@dataclass(frozen=True)
class ClaimCheck:
    """A claim checked against the latest ``smt`` and ``baseline`` results of the user's runs.

    ``tolerance`` is the allowed shortfall of the measured difference (points), ``missing`` the
    configs with no run.
    """

    claim: Claim
    smt: float | None
    baseline: float | None
    tolerance: float
    missing: Sequence[str] = field(default_factory=tuple)

    @property
    def delta(self) -> float | None:
        """float, optional: The measured ``smt - baseline`` difference."""
        return None if self.smt is None or self.baseline is None else self.smt - self.baseline

    @property
    def verdict(self) -> str:
        """str: ``reproduced``, ``partly reproduced``, ``not reproduced`` or ``incomplete``."""
        delta = self.delta
        if delta is None:
            return 'incomplete'
        if delta >= self.claim.delta - self.tolerance:
            return 'reproduced'
        return 'partly reproduced' if delta > 0 else 'not reproduced'

    @property
    def explanation(self) -> str:
        """str: Why the verdict was given, in one sentence."""
        delta = self.delta
        if delta is None:
            return f'no {self.claim.metric} evaluation of {", ".join(self.missing)}'
        if self.verdict == 'reproduced':
            return (
                f'SMT ahead by {delta:+.2f}, within {self.tolerance:.1f} of the claimed '
                f'{self.claim.delta:+.1f} or beyond'
            )
        if self.verdict == 'partly reproduced':
            return f'SMT ahead, by less than claimed minus {self.tolerance:.1f}'
        return 'SMT not ahead of Swin'


def _latest(records: Sequence[EvalRecord], name: str, metric: str) -> float | None:
    values = [r.points[metric] for r in records if r.name == name and metric in r.points]
    return values[-1] if values else None


def check_claims(
    records: Sequence[EvalRecord],
    claims: Iterable[Claim] = CLAIMS,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[ClaimCheck]:
    """Check the paper's claims with the latest run of each config involved.

    Args:
        records (Sequence[EvalRecord]): The runs, oldest first.
        claims (Iterable[Claim]): The claims. Defaults to :data:`~smt_mm.analysis.paper.CLAIMS`.
        tolerance (float): Allowed shortfall in points. Defaults to :data:`DEFAULT_TOLERANCE`.

    Returns:
        list[ClaimCheck]: One check per claim, runs or not.
    """
    checks = []
    for claim in claims:
        smt = _latest(records, claim.smt, claim.metric)
        baseline = _latest(records, claim.baseline, claim.metric)
        missing = tuple(n for n, v in ((claim.smt, smt), (claim.baseline, baseline)) if v is None)
        checks.append(ClaimCheck(claim, smt, baseline, tolerance, missing))
    return checks


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return '-'
    return f'{value:+.2f}' if signed else f'{value:.2f}'


def comparison_markdown(rows: Sequence[ResultRow], checks: Sequence[ClaimCheck]) -> str:
    """Render our results vs the paper's and the claims with their verdicts as Markdown."""
    lines = [
        '### Results: ours vs paper',
        '',
        '| Config | Metric | Ours | Paper | Ours - paper | Toolbox retrained | Checkpoint '
        '| Record |',
        '|:--|:--|--:|--:|--:|--:|:--|:--|',
    ]
    for row in rows:
        lines.append(
            f'| {row.record.name} | {row.metric} | {_fmt(row.ours)} | {_fmt(row.paper)} '
            f'| {_fmt(row.difference, signed=True)} | {_fmt(row.reference)} '
            f'| {Path(row.record.checkpoint).name if row.record.checkpoint else "-"} '
            f'| {row.record.path} |'
        )
    if not rows:
        lines.append('| (no paper-comparable metric in the records) | | | | | | | |')
    lines += [
        '',
        '### Claims: SMT minus Swin',
        '',
        '| Claim | SMT | Swin | Δ ours | Δ paper | Verdict | Why |',
        '|:--|--:|--:|--:|--:|:--|:--|',
    ]
    for check in checks:
        lines.append(
            f'| {check.claim.title} | {_fmt(check.smt)} | {_fmt(check.baseline)} '
            f'| {_fmt(check.delta, signed=True)} | {check.claim.delta:+.1f} '
            f'| **{check.verdict}** | {check.explanation} |'
        )
    return '\n'.join(lines) + '\n'


def claims_figure(checks: Sequence[ClaimCheck]) -> Figure:
    """The chart of :func:`plot_claims`: claimed and measured SMT-minus-Swin bars per claim.

    A claim without both runs gets no measured bar but the words ``no run`` (a zero bar would
    read as "measured, no difference").

    Returns:
        Figure: One axes, titled, with a legend, a labelled y axis and the verdicts as x labels.
    """
    figure = Figure(figsize=(2.2 * max(len(checks), 2), 3.8), dpi=120, layout='constrained')
    axes = figure.subplots()
    positions = list(range(len(checks)))
    axes.bar([p - 0.2 for p in positions], [c.claim.delta for c in checks], 0.4, label='paper')
    measured = [(p, c.delta) for p, c in zip(positions, checks, strict=True) if c.delta is not None]
    axes.bar([p + 0.2 for p, _ in measured], [d for _, d in measured], 0.4, label='ours')
    for p, check in zip(positions, checks, strict=True):
        if check.delta is None:
            axes.text(p + 0.2, 0, 'no run', rotation=90, ha='center', va='bottom', fontsize=7)
    axes.axhline(0, color='black', linewidth=0.8)
    axes.set_xticks(positions)
    axes.set_xticklabels(
        [f'{c.claim.title.split(":")[0]}\n{c.verdict}' for c in checks], fontsize=7
    )
    axes.set_ylabel('SMT - Swin (points)')
    axes.set_title('SMT minus Swin: claimed in the paper and measured in your runs', fontsize=9)
    axes.legend()
    return figure


def plot_claims(checks: Sequence[ClaimCheck], out_file: str | Path) -> Path:
    """Draw the claimed and measured SMT-minus-Swin differences as bars into a PNG file."""
    out_path = Path(out_file)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    claims_figure(checks).savefig(out_path)
    return out_path
