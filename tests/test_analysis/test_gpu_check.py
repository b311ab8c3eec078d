"""The GPU check (.dev_scripts/gpu_check.sh) and its A/B driver (.dev_scripts/gpu_levers.py).

Neither can measure without a GPU; what runs here: the shell script parses and its dry run
prints every stage, the stages' cases and backbones build, and the final table computes its
ratios from the records the benchmark writes.
"""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO_ROOT, load_tool

from smt_mm import benchmark as bench
from smt_mm.models.backbones import SMT

ROOT = Path(REPO_ROOT)


@pytest.fixture(scope='module')
def levers():
    module = load_tool('.dev_scripts/gpu_levers.py')
    module.register_variants()
    return module


def test_script_parses_and_dry_run_prints_every_stage(levers):
    script = ROOT / '.dev_scripts' / 'gpu_check.sh'
    subprocess.run(['bash', '-n', str(script)], check=True)
    bin_dir = str(Path(sys.executable).parent)  # `python3` there is this interpreter
    result = subprocess.run(
        ['bash', str(script), '--dry-run'], cwd=ROOT, capture_output=True, text=True, check=False,
        env={'PATH': f'{bin_dir}:/usr/bin:/bin', 'PYTHONPATH': REPO_ROOT, 'OUT': '/tmp/x'},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for stage in levers.STAGES:
        assert f'run {stage.name} --out /tmp/x/levers' in result.stdout
        assert f'{stage.name}: ' in result.stdout  # the plan
    for test in ('test_smt_cuda.py', 'test_mhmc_triton.py'):
        assert (ROOT / 'tests/test_models/test_backbones' / test).is_file()
        assert test in result.stdout
    assert 'backbone/smt-s-plain-triton 800x1344 b2' in result.stdout


def test_every_variant_builds_the_smt_it_names(levers):
    for name, options in levers.VARIANTS.items():  # the Triton ones last: they may skip
        cfg = dict(bench.BACKBONES[name])
        assert cfg.pop('type') == 'SMT' and cfg['arch'] == 's'
        if options['mhmc'] == 'triton':
            pytest.importorskip('triton', minversion='3.0')
        model = SMT(**cfg)
        assert (model.fused, model.mhmc) == (options['fused'], options['mhmc']), name


def test_stages_give_their_cases_and_settings(levers):
    stage = levers.stage_by_name('bf16-compiled-800')
    assert stage.compile and not stage.train and stage.amp == 'bf16'
    assert [c.name for c in levers.cases(stage)] == [
        'backbone/swin-t-mmpretrain 800x1344 b2',
        'backbone/smt-s-plain 800x1344 b2',
    ]
    settings = levers.settings(stage)
    assert (settings.device, settings.isolate, settings.flops) == ('cuda', False, False)
    with pytest.raises(SystemExit, match="unknown stage 'fp16'"):
        levers.stage_by_name('fp16')
    with pytest.raises(SystemExit):
        levers.parse_args(['run', 'fp16', '--out', 'x'])


def _case(backbone):
    """What ``run_stage`` records of a case that did not run: the case itself."""
    return dict(backbone=backbone, height=224, width=224, batch=64, config=None)


def _record(backbone, infer, train, memory):
    return dict(
        backbone=backbone, model='backbone', height=224, width=224, batch=64,
        name=f'backbone/{backbone} 224x224 b64', infer=dict(median_s=infer, peak_memory_gb=1.0),
        train=dict(median_s=train, peak_memory_gb=memory),
    )  # fmt: skip


def test_table_divides_by_swin_and_plain_and_keeps_failed_cases(levers):
    records = [
        _record('swin-t-mmpretrain', 0.02, 0.08, 4.0),
        _record('smt-s-plain', 0.04, 0.16, 6.0),
        _record('smt-s-plain-nchw', 0.03, 0.12, 6.0),
        dict(_case('smt-s-plain-triton'), error='CompilationError: x'),
        dict(_case('smt-s-fused-triton'), skipped='time budget spent'),
    ]
    text = levers.table([dict(stage=dict(name='bf16-eager'), records=records)])
    rows = {line.split(' | ')[2]: line for line in text.splitlines()[2:]}
    assert rows['swin-t-mmpretrain'].endswith('| - | - |')
    assert '| 2.00 / 2.00 / 1.50 | - |' in rows['smt-s-plain']
    assert '| 1.50 / 1.50 / 1.50 | 0.75 / 0.75 / 1.00 |' in rows['smt-s-plain-nchw']
    assert '| smt-s-plain-triton | CompilationError: x | - | - | - | - |' in text
    assert '| smt-s-fused-triton | time budget spent | - |' in text


def test_run_stage_saves_each_case_records_failures_and_stops_at_its_budget(
    levers, tmp_path, monkeypatch
):
    """The measuring itself needs a GPU; around it: the JSON after each case, errors, budget."""
    measured, clock = [], [0.0]

    def run_case(case, settings):
        measured.append(case.backbone)
        saved = json.loads((tmp_path / 'fp32-eager.json').read_text()) if measured[1:] else None
        assert saved is None or len(saved['records']) == len(measured) - 1  # saved as it goes
        if case.backbone == 'smt-s-fused':
            raise RuntimeError('out of memory')
        if case.backbone == 'smt-s-plain-nchw':
            clock[0] = 61.0  # the budget is spent: no further case starts
        return dict(_record(case.backbone, 0.1, 0.2, 1.0), amp=settings.amp)

    monkeypatch.setattr(levers, 'time', SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(levers.bench, 'run_case', run_case)
    monkeypatch.setattr(levers.bench, 'machine_info', lambda device: dict(gpu='test'))
    path = levers.run_stage(levers.stage_by_name('fp32-eager'), tmp_path, 60, 2, 5)
    records = json.loads(path.read_text())['records']
    assert measured == list(levers.ALL_MODELS[:4])
    assert [r['backbone'] for r in records] == list(levers.ALL_MODELS) * 2
    assert records[2]['error'] == 'RuntimeError: out of memory'
    assert records[3]['amp'] is None and 'infer' in records[3]
    assert all(r['skipped'] == 'time budget spent' for r in records[4:])
