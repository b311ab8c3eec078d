import argparse
import json
import math
import os
import statistics
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, load_tool
from mmengine.config import Config

from smt_mm import benchmark as bench
from smt_mm.apis.command_line import parse_size
from smt_mm.benchmark.cases import _swap_backbone, backbone_name

REPO = Path(REPO_ROOT)
TOY_CONFIGS = [
    REPO / 'configs' / 'detection' / 'mask_rcnn_smt_t_toy.py',
    REPO / 'configs' / 'segmentation' / 'upernet_smt_t_toy.py',
]
MINI = dict(embed_dims=(16, 32, 48, 64), depths=(1, 2, 2, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)
MINI_SWIN = dict(type='SwinTransformer', embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8))


@pytest.fixture
def mini_backbones(monkeypatch):
    """Shrinks smt-t, smt-t-fused, smt-t-plain and swin-t to a few blocks of few channels."""
    monkeypatch.setitem(bench.BACKBONES, 'smt-t', dict(type='SMT', arch=MINI))
    monkeypatch.setitem(bench.BACKBONES, 'smt-t-fused', dict(type='SMT', arch=MINI, fused=True))
    monkeypatch.setitem(bench.BACKBONES, 'smt-t-plain', dict(type='SMT', arch=MINI, fused=False))
    monkeypatch.setitem(bench.BACKBONES, 'swin-t', MINI_SWIN)


def _check_phase(phase, batch):
    for key in ('median_s', 'min_s', 'max_s', 'throughput', 'peak_memory_gb'):
        assert math.isfinite(phase[key]) and phase[key] > 0, key
    assert phase['min_s'] <= phase['median_s'] <= phase['max_s']
    assert phase['throughput'] == pytest.approx(batch / phase['median_s'])


def test_benchmark_tool_end_to_end(tmp_path, mini_backbones):
    load_tool('tools/analysis/benchmark.py').main(
        [
            '--models', 'smt-t-fused', 'smt-t-plain', 'swin-t',
            '--sizes', '32x48x2',
            '--pairs', 'smt-t-fused:swin-t',
            '--warmup', '0',
            '--repeats', '2',
            '--threads', '1',
            '--no-isolate',
            '--out-dir', str(tmp_path),
        ]
    )  # fmt: skip
    report = json.loads((tmp_path / 'benchmark.json').read_text())
    assert report['machine']['torch'] == torch.__version__
    assert report['machine']['logical_cores'] >= 1
    assert report['command'].startswith('python tools/analysis/benchmark.py --models smt-t-fused')
    results = {r['backbone']: r for r in report['results']}
    assert list(results) == ['smt-t-fused', 'smt-t-plain', 'swin-t']
    for record in results.values():
        assert (record['height'], record['width'], record['batch']) == (32, 48, 2)
        assert record['model'] == 'backbone' and record['macs'] > 0
        assert len(record['infer']['times_s']) == 2
        _check_phase(record['infer'], 2)
        _check_phase(record['train'], 2)
    smt, plain, swin = results.values()
    assert smt['params_m'] == plain['params_m']  # one model, two implementations
    swin_ratio, plain_ratio = report['ratios']
    assert (swin_ratio['backbone'], swin_ratio['baseline']) == ('smt-t-fused', 'swin-t')
    assert (plain_ratio['backbone'], plain_ratio['baseline']) == ('smt-t-fused', 'smt-t-plain')
    assert plain_ratio['macs'] == pytest.approx(smt['macs'] / plain['macs'])
    assert swin_ratio['infer_time'] == pytest.approx(
        smt['infer']['median_s'] / swin['infer']['median_s']
    )
    assert swin_ratio['macs'] == pytest.approx(smt['macs'] / swin['macs'])
    for key in ('infer_memory', 'train_time', 'train_memory'):
        assert math.isfinite(swin_ratio[key]) and swin_ratio[key] > 0
    markdown = (tmp_path / 'benchmark.md').read_text()
    assert '| backbone/smt-t-plain | 32x48 b2 |' in markdown
    assert '| smt-t-fused / swin-t | backbone | 32x48 b2 |' in markdown
    assert '| smt-t-fused / smt-t-plain | backbone | 32x48 b2 |' in markdown


def test_plain_variant_builds_smt_with_fused_off(mini_backbones):
    case = bench.BenchmarkCase('smt-t-plain', 32, 32, 1)
    assert bench.CaseModel(case).model.fused is False
    assert bench.CaseModel(bench.BenchmarkCase('smt-t-fused', 32, 32, 1)).model.fused is True
    assert bench.CaseModel(bench.BenchmarkCase('smt-t', 32, 32, 1)).model.fused_mode == 'auto'


def test_mmpretrain_swin_matches_mmdet_swin_in_size_and_outputs():
    """The Swin of machines without mmcv ops: same settings, parameters and output shapes."""
    pytest.importorskip('mmpretrain.models')
    x = torch.rand(1, 3, 64, 96)
    for size in ('t', 's'):
        mmdet_swin = bench.CaseModel(bench.BenchmarkCase(f'swin-{size}', 64, 96, 1))
        mmpretrain_swin = bench.CaseModel(bench.BenchmarkCase(f'swin-{size}-mmpretrain', 64, 96, 1))
        assert mmdet_swin.params == mmpretrain_swin.params
        mmdet_swin.model.eval(), mmpretrain_swin.model.eval()  # mmpretrain's returns None
        shapes = [o.shape for o in mmpretrain_swin.model(x)]
        assert shapes == [o.shape for o in mmdet_swin.model(x)]
        assert [s[1] for s in shapes] == list(bench.cases.out_channels(f'swin-{size}-mmpretrain'))


def test_backbones_come_from_the_arch_zoo():
    from smt_mm.models.backbones.smt import SMT

    smt = {name for name, cfg in bench.BACKBONES.items() if cfg['type'] == 'SMT'}
    sizes = [arch for arch in SMT.arch_zoo if len(arch) == 1]
    assert smt == {f'smt-{a}{path}' for a in sizes for path in ('', '-fused', '-plain')}
    assert backbone_name(dict(type='SMT', arch='base')) == 'smt-b'
    assert backbone_name(dict(type='SMT', arch='L', fused=False)) == 'smt-l-plain'
    assert backbone_name(dict(type='SMT', arch='s', fused=True)) == 'smt-s-fused'
    with pytest.raises(ValueError, match='cannot name'):
        backbone_name(dict(type='SwinTransformer'))


@pytest.mark.slow
def test_case_runs_in_a_fresh_process():
    settings = bench.BenchmarkSettings(warmup=0, repeats=1, flops=False)
    report = bench.run_benchmark([bench.BenchmarkCase('smt-t', 64, 64, 2)], settings, log=None)
    (record,) = report['results']
    assert record['pid'] != os.getpid() and 'macs' not in record
    for phase in ('infer', 'train'):
        assert record[phase]['peak_memory_gb'] > 0.1  # the RSS of a process holding torch


def test_rounds_pool_the_timed_runs_and_list_each_rounds_ratio(monkeypatch, mini_backbones):
    monkeypatch.setenv('MALLOC_ARENA_MAX', '2')  # allocator settings are recorded
    monkeypatch.delenv('THP_MEM_ALLOC_ENABLE', raising=False)
    pairs = [('smt-t', 'swin-t')]
    cases = bench.make_cases(['smt-t', 'swin-t'], [], [(32, 32, 1)], pairs)
    settings = bench.BenchmarkSettings(warmup=0, repeats=2, rounds=3, threads=1, isolate=False)
    seen = []
    report = bench.run_benchmark(cases, settings, pairs, log=seen.append)
    # the cases take turns: smt-t, swin-t, smt-t, swin-t, ...
    names = [line.split('] ', 1)[1] for line in seen]
    assert [n.split()[0] for n in names] == ['backbone/smt-t', 'backbone/swin-t'] * 3
    for record in report['results']:
        assert record['rounds'] == 3 and record['macs'] > 0
        for phase in ('infer', 'train'):
            times = record[phase]['times_s']
            assert len(times) == 6
            assert record[phase]['median_s'] == statistics.median(times)
            assert record[phase]['min_s'] == min(times) and record[phase]['max_s'] == max(times)
    (ratio,) = report['ratios']
    for name in ('infer_time', 'train_time', 'train_memory'):
        assert len(ratio[f'{name}_rounds']) == 3 and min(ratio[f'{name}_rounds']) > 0
    per_round = ratio['train_time_rounds']
    markdown = bench.format_markdown(report)
    row = next(line for line in markdown.splitlines() if '/ swin-t' in line)
    assert f'({min(per_round):.2f}-{max(per_round):.2f})' in row
    assert report['machine']['env']['MALLOC_ARENA_MAX'] == '2'
    assert 'THP_MEM_ALLOC_ENABLE' not in report['machine']['env']
    assert 'MALLOC_ARENA_MAX=2, ' in markdown and 'in each of 3 rounds' in markdown
    with pytest.raises(ValueError, match='rounds'):
        bench.BenchmarkSettings(rounds=0)


def test_make_cases_and_sizes():
    assert parse_size('800x1344x2') == (800, 1344, 2)
    assert parse_size('64X96') == (64, 96, 1)
    for bad in ('64', '64x0', 'axb', '1x2x3x4'):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_size(bad)
    cases = bench.make_cases(['smt-s', 'swin-t'], sizes=[(32, 32, 2), (64, 48, 1)])
    assert [c.name for c in cases] == [
        'backbone/smt-s 32x32 b2',
        'backbone/swin-t 32x32 b2',
        'backbone/smt-s 64x48 b1',
        'backbone/swin-t 64x48 b1',
    ]
    with pytest.raises(KeyError, match='unknown backbones'):
        bench.make_cases(['resnet50'])
    with pytest.raises(ValueError, match='device'):
        bench.BenchmarkSettings(device='tpu')
    with pytest.raises(ValueError, match='amp'):
        bench.BenchmarkSettings(amp='fp8')


@pytest.mark.skipif(not TOY_CONFIGS[0].exists(), reason='toy configs not shipped')
def test_configs_get_their_baselines_from_the_pairs():
    config = str(TOY_CONFIGS[0])
    pairs = [('smt-t', 'swin-t'), ('smt-t', 'smt-t-plain'), ('smt-s', 'swin-t')]
    cases = bench.make_cases([], [config], [(64, 64, 1)], pairs)
    assert [(c.model, c.backbone) for c in cases] == [
        ('mask_rcnn_smt_t_toy', 'smt-t'),
        ('mask_rcnn_smt_t_toy', 'swin-t'),
        ('mask_rcnn_smt_t_toy', 'smt-t-plain'),
    ]


def test_swap_backbone_rewires_channels():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(type='SMT', arch='small', out_indices=(0, 1, 2, 3)),
                neck=dict(in_channels=[64, 128, 256, 512]),
                decode_head=dict(in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3]),
                auxiliary_head=dict(in_channels=256, in_index=2),
            )
        )
    )
    _swap_backbone(cfg.model, 'swin-b')
    assert cfg.model.backbone.type == 'SwinTransformer'
    assert cfg.model.neck.in_channels == [128, 256, 512, 1024]
    assert cfg.model.decode_head.in_channels == [128, 256, 512, 1024]
    assert cfg.model.auxiliary_head.in_channels == 512
    _swap_backbone(cfg.model, 'smt-l-plain')
    assert cfg.model.backbone.fused is False
    assert cfg.model.neck.in_channels == [96, 192, 384, 768]


@pytest.mark.slow
@pytest.mark.skipif(not all(p.exists() for p in TOY_CONFIGS), reason='toy configs not shipped')
def test_full_model_cases_with_swin_twins():
    pairs = [('smt-t', 'swin-t')]
    cases = bench.make_cases([], [str(p) for p in TOY_CONFIGS], [(96, 128, 2)], pairs)
    settings = bench.BenchmarkSettings(warmup=0, repeats=1, threads=1, isolate=False)
    report = bench.run_benchmark(cases, settings, pairs, log=None)
    tasks = [r['task'] for r in report['results']]
    assert tasks == ['detection', 'detection', 'segmentation', 'segmentation']
    for record in report['results']:
        assert record['macs'] > 0, record.get('flops_error')
        _check_phase(record['infer'], 2)
        _check_phase(record['train'], 2)
    assert [r['model'] for r in report['ratios']] == ['mask_rcnn_smt_t_toy', 'upernet_smt_t_toy']


def test_swin_comes_from_its_toolbox_whatever_the_default_scope(mini_backbones):
    """load_config leaves the config's scope as the default one: mmdet's Swin must still build."""
    from mmengine.registry import init_default_scope

    init_default_scope('mmpretrain')  # whose SwinTransformer takes arch=, not embed_dims=
    built = bench.CaseModel(bench.BenchmarkCase('swin-t', 32, 32, 1))
    assert type(built.model).__module__.startswith('mmdet.')
