"""The comparison report, on evaluation records that the real tools/test.py writes on toy data."""

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, load_tool
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from smt_mm.analysis import compare
from smt_mm.analysis.paper import CLAIMS, load_model_index
from smt_mm.apis import build_model
from smt_mm.toydata import generate_ade20k, generate_coco

ROOT = Path(REPO_ROOT)
INDEX = ROOT / 'model-index.yml'
TOY_DET = ROOT / 'configs/detection/mask_rcnn_smt_t_toy.py'
TOY_SEG = ROOT / 'configs/segmentation/upernet_smt_t_toy.py'

# The configs of paper rows, re-pointed at toy data and shrunk so that CPU evaluation takes
# seconds: the SMT ones keep the toy SMT-T models, the Swin one swaps in a one-block-per-stage
# Swin. The config file name is what ties a run to its paper row.
DET_OVERRIDES = """
_base_ = '{base}'
data_root = '{data_root}/'
val_dataloader = dict(batch_size=1, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
"""
SEG_OVERRIDES = """
_base_ = '{base}'
test_dataloader = dict(dataset=dict(data_root='{data_root}'))
{backbone}
"""
SEG_SWIN_BACKBONE = """
model = dict(
    backbone=dict(
        _delete_=True, type='SwinTransformer', embed_dims=32, depths=(1, 1, 1, 1),
        num_heads=(1, 2, 4, 8), window_size=7, out_indices=(0, 1, 2, 3), init_cfg=None),
    decode_head=dict(in_channels=[32, 64, 128, 256]),
    auxiliary_head=dict(in_channels=128))
"""


def _evaluate(tmp: Path, name: str, text: str, *extra: str) -> Path:
    """Write a config named after a paper row, an untrained checkpoint, run tools/test.py."""
    config = tmp / 'configs' / f'{name}.py'
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    checkpoint = tmp / 'checkpoints' / f'{name}.pth'
    if not checkpoint.exists():
        torch.manual_seed(0)
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        model = build_model(Config.fromfile(str(config)))
        save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, str(checkpoint))
    work_dir = tmp / 'work_dirs' / name
    load_tool('tools/test.py').main(
        [str(config), str(checkpoint), '--work-dir', str(work_dir), *extra]
    )
    return work_dir


@pytest.fixture(scope='module')
def toy_work_dirs(tmp_path_factory):
    """tools/test.py runs on toy data: one SMT detector, SMT and Swin segmentors (ss and ms)."""
    tmp = tmp_path_factory.mktemp('compare')
    coco, ade = tmp / 'toy_coco', tmp / 'toy_ade20k'
    generate_coco(str(coco), num_train=1, num_val=2, height=64, width=96)
    generate_ade20k(str(ade), num_train=1, num_val=1, height=64, width=64)
    det = DET_OVERRIDES.format(base=TOY_DET, data_root=coco)
    dirs = {'mask_rcnn_smt_b_3x': _evaluate(tmp, 'mask_rcnn_smt_b_3x', det)}
    for name, backbone in (
        ('upernet_smt_b_512x512_160k_ade20k', ''),
        ('upernet_swin_s_512x512_160k_ade20k', SEG_SWIN_BACKBONE),
    ):
        seg = SEG_OVERRIDES.format(base=TOY_SEG, data_root=ade, backbone=backbone)
        dirs[name] = _evaluate(tmp, name, seg)
        _evaluate(tmp, name, seg, '--tta')
    return dirs


def test_records_written_by_tools_test(toy_work_dirs):
    records = compare.find_eval_records(toy_work_dirs.values())
    assert sorted((r.name, r.tta) for r in records) == [
        ('mask_rcnn_smt_b_3x', False),
        ('upernet_smt_b_512x512_160k_ade20k', False),
        ('upernet_smt_b_512x512_160k_ade20k', True),
        ('upernet_swin_s_512x512_160k_ade20k', False),
        ('upernet_swin_s_512x512_160k_ade20k', True),
    ]
    for record in records:
        if record.name.startswith('mask_rcnn'):
            assert record.points == {
                'box AP': pytest.approx(100 * record.metrics['coco/bbox_mAP']),
                'mask AP': pytest.approx(100 * record.metrics['coco/segm_mAP']),
            }
        else:
            metric = 'mIoU(ms+flip)' if record.tta else 'mIoU'
            assert record.points == {metric: record.metrics['mIoU']}


def test_report_on_toy_runs(toy_work_dirs, tmp_path):
    records = compare.find_eval_records(toy_work_dirs.values())
    rows = compare.result_rows(records, load_model_index(INDEX))
    paper = {(r.record.name, r.metric): (r.paper, r.reference) for r in rows}
    assert paper['mask_rcnn_smt_b_3x', 'box AP'] == (49.8, None)
    assert paper['upernet_smt_b_512x512_160k_ade20k', 'mIoU(ms+flip)'] == (50.6, None)
    assert paper['upernet_swin_s_512x512_160k_ade20k', 'mIoU'] == (47.6, 47.72)
    for row in rows:
        assert row.difference == pytest.approx(row.ours - row.paper)

    checks = compare.check_claims(records)
    assert [c.claim for c in checks] == list(CLAIMS)
    one_x, three_x, single, multi, *other_detectors = checks
    assert one_x.verdict == three_x.verdict == 'incomplete'
    assert other_detectors and all(c.verdict == 'incomplete' for c in other_detectors)
    assert 'mask_rcnn_swin_s_3x' in three_x.explanation
    assert 'mask_rcnn_smt_b_3x' not in three_x.explanation
    points = {(r.name, r.tta): r.points for r in records}
    smt, swin = 'upernet_smt_b_512x512_160k_ade20k', 'upernet_swin_s_512x512_160k_ade20k'
    assert single.delta == pytest.approx(points[smt, False]['mIoU'] - points[swin, False]['mIoU'])
    assert multi.delta == pytest.approx(
        points[smt, True]['mIoU(ms+flip)'] - points[swin, True]['mIoU(ms+flip)']
    )
    for check in (single, multi):
        assert check.verdict in ('reproduced', 'partly reproduced', 'not reproduced')

    report = compare.comparison_markdown(rows, checks)
    assert '| upernet_swin_s_512x512_160k_ade20k | mIoU(ms+flip) |' in report
    assert '| 49.50 | ' in report  # Swin-S multi-scale, the paper's figure
    # the two Mask R-CNN claims and the four of the other detectors have no toy run here
    assert report.count('**incomplete**') == 2 + len(other_detectors)
    assert compare.plot_claims(checks, tmp_path / 'claims.png').stat().st_size > 0


def test_compare_results_cli(toy_work_dirs, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'report.md'
    argv = ['compare_results.py', *map(str, toy_work_dirs.values())]
    monkeypatch.setattr(sys, 'argv', [*argv, '--out', str(out), '--tolerance', '100'])
    runpy.run_path(str(ROOT / 'tools/analysis/compare_results.py'), run_name='__main__')
    stdout = capsys.readouterr().out
    assert out.read_text() in stdout
    # Within a tolerance of 100 points any measured gap reproduces the claims it can check.
    assert stdout.count('**reproduced**') == 2
    assert stdout.count('**incomplete**') == len(CLAIMS) - 2


def _record(tmp: Path, name: str, tta: bool, metrics: dict, stamp: str) -> Path:
    path = tmp / name / f'eval_{stamp}.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(config=f'configs/x/{name}.py', checkpoint='c.pth', tta=tta, metrics=metrics)
    path.write_text(json.dumps(dict(record, timestamp=stamp)))
    return path.parent


def test_segmentation_claims_use_tta_for_multi_scale_and_the_latest_run(tmp_path):
    smt, swin = 'upernet_smt_b_512x512_160k_ade20k', 'upernet_swin_s_512x512_160k_ade20k'
    dirs = [
        _record(tmp_path, smt, False, {'mIoU': 40.0}, '20260101_000000'),
        _record(tmp_path, smt, False, {'mIoU': 49.9}, '20260102_000000'),
        _record(tmp_path, smt, True, {'mIoU': 50.0}, '20260102_000001'),
        _record(tmp_path, swin, False, {'mIoU': 47.5}, '20260101_000000'),
        _record(tmp_path, swin, True, {'mIoU': 50.5}, '20260101_000001'),
    ]
    records = compare.find_eval_records(dirs)
    checks = {c.claim.metric: c for c in compare.check_claims(records)}
    assert checks['mIoU'].delta == pytest.approx(2.4)  # latest SMT ss run, not the first
    assert checks['mIoU'].verdict == 'reproduced'
    assert checks['mIoU(ms+flip)'].delta == pytest.approx(-0.5)
    assert checks['mIoU(ms+flip)'].verdict == 'not reproduced'
    assert compare.check_claims(records, tolerance=0.0)[2].verdict == 'reproduced'
    rows = compare.result_rows(records, load_model_index(INDEX))
    ms_swin = next(r for r in rows if r.record.name == swin and r.metric == 'mIoU(ms+flip)')
    assert (ms_swin.paper, ms_swin.reference) == (49.5, 49.24)


def test_partly_reproduced_between_zero_and_claim_minus_tolerance(tmp_path):
    smt, swin = 'mask_rcnn_smt_b_3x', 'mask_rcnn_swin_s_3x'
    dirs = [
        _record(tmp_path, smt, False, {'coco/bbox_mAP': 0.490}, '1'),
        _record(tmp_path, swin, False, {'coco/bbox_mAP': 0.485}, '1'),
    ]
    check = compare.check_claims(compare.find_eval_records(dirs))[1]
    assert check.delta == pytest.approx(0.5)
    assert check.verdict == 'partly reproduced'


def test_missing_or_foreign_inputs_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        compare.find_eval_records([tmp_path / 'nope'])
    with pytest.raises(FileNotFoundError, match='tools/test.py'):
        compare.find_eval_records([tmp_path])
    (tmp_path / 'eval_1.json').write_text('{"coco/bbox_mAP": 0.4}')
    with pytest.raises(ValueError, match='missing'):
        compare.find_eval_records([tmp_path])


def test_claims_chart_draws_no_measured_bar_for_a_claim_without_runs():
    done = compare.ClaimCheck(CLAIMS[0], smt=48.0, baseline=46.0, tolerance=0.5)
    missing = compare.ClaimCheck(CLAIMS[1], None, 46.0, 0.5, (CLAIMS[1].smt,))
    figure = compare.claims_figure([done, missing])
    (axes,) = figure.axes
    paper, ours = axes.containers
    assert len(paper) == 2 and [bar.get_height() for bar in ours] == [pytest.approx(2.0)]
    assert 'no run' in [text.get_text() for text in axes.texts]
    assert axes.get_title() and axes.get_ylabel() == 'SMT - Swin (points)'
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ['paper', 'ours']
    assert [t.get_text().split('\n')[1] for t in axes.get_xticklabels()] == [
        done.verdict, 'incomplete'
    ]  # fmt: skip
