import argparse
import importlib.util
import json
import math
import os
import statistics
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from smt_mm.analysis import benchmark as bench

REPO = Path(__file__).resolve().parents[2]
TOY_CONFIGS = [
    REPO / 'configs' / 'detection' / 'mask_rcnn_smt_t_toy.py',
    REPO / 'configs' / 'segmentation' / 'upernet_smt_t_toy.py',
]


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', REPO / 'tools' / 'analysis' / 'benchmark.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Attention(nn.Module):
    def __init__(self, fused):
        super().__init__()
        self.fused = fused

    def forward(self, q, k, v):
        if self.fused:
            return F.scaled_dot_product_attention(q, k, v)
        return ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(-1) @ v


def test_sdpa_counted_like_explicit_attention():
    q = torch.randn(2, 3, 10, 8)
    k = torch.randn(2, 3, 14, 8)
    v = torch.randn(2, 3, 14, 5)
    fused = bench.count_flops(_Attention(True), (q, k, v))
    explicit = bench.count_flops(_Attention(False), (q, k, v))
    assert fused == explicit == 2 * 3 * 10 * 14 * (8 + 5)


def _check_phase(phase):
    for key in ('median_s', 'min_s', 'max_s', 'throughput', 'peak_memory_gb'):
        assert math.isfinite(phase[key]) and phase[key] > 0, key
    assert phase['min_s'] <= phase['median_s'] <= phase['max_s']
    assert 0 < phase['achieved_gemm_fraction']


def test_benchmark_tool_end_to_end(tmp_path):
    tool = _load_tool()
    tool.main(
        [
            '--models', 'smt-t', 'swin-t',
            '--sizes', '64x64x1',
            '--pairs', 'smt-t:swin-t',
            '--warmup', '0',
            '--repeats', '2',
            '--gemm-size', '256',
            '--threads', '1',
            '--no-isolate',
            '--out-dir', str(tmp_path),
            '--plot',
        ]
    )  # fmt: skip
    report = json.loads((tmp_path / 'benchmark.json').read_text())
    assert report['machine']['torch'] == torch.__version__
    assert report['machine']['logical_cores'] >= 1
    assert report['gemm_peak_flops'] > 0
    assert report['command'].startswith('python tools/analysis/benchmark.py --models smt-t')
    results = {r['backbone']: r for r in report['results']}
    assert set(results) == {'smt-t', 'swin-t'}
    for record in results.values():
        assert (record['height'], record['width'], record['batch']) == (64, 64, 1)
        assert record['model'] == 'backbone' and record['params_m'] > 1
        assert record['macs'] > 0
        assert len(record['infer']['times_s']) == 2
        _check_phase(record['infer'])
        _check_phase(record['train'])
    # SMT-T is the smaller network (11.5M vs 28M parameters); its count must come out lower.
    assert results['smt-t']['params_m'] < results['swin-t']['params_m']
    (ratio,) = report['ratios']
    assert (ratio['smt'], ratio['swin']) == ('smt-t', 'swin-t')
    smt, swin = results['smt-t'], results['swin-t']
    infer_ratio = smt['infer']['median_s'] / swin['infer']['median_s']
    assert ratio['infer_time'] == pytest.approx(infer_ratio)
    assert ratio['macs'] == pytest.approx(smt['macs'] / swin['macs'])
    for key in ('infer_throughput', 'infer_memory', 'train_time', 'train_memory'):
        assert math.isfinite(ratio[key]) and ratio[key] > 0
    markdown = (tmp_path / 'benchmark.md').read_text()
    assert '| backbone/smt-t | 64x64 b1 |' in markdown
    assert '| smt-t / swin-t | backbone | 64x64 b1 |' in markdown
    assert (tmp_path / 'benchmark.png').stat().st_size > 0


@pytest.mark.slow
def test_case_runs_in_a_fresh_process():
    settings = bench.BenchmarkSettings(warmup=0, repeats=1, flops=False, gemm_size=128)
    case = bench.BenchmarkCase('smt-t', 64, 64, 2)
    report = bench.run_benchmark([case], settings, log=None)
    (record,) = report['results']
    assert record['pid'] != os.getpid()
    assert 'macs' not in record and 'achieved_gemm_fraction' not in record['infer']
    for phase in ('infer', 'train'):
        assert record[phase]['peak_memory_gb'] >= record['memory_base_gb'] > 0


def test_rounds_pool_the_timed_runs_and_list_each_rounds_ratio(monkeypatch):
    monkeypatch.setenv('MALLOC_ARENA_MAX', '2')  # allocator settings are recorded
    monkeypatch.delenv('THP_MEM_ALLOC_ENABLE', raising=False)
    cases = bench.make_cases(['smt-t', 'swin-t'], [], [(32, 32, 1)], [('smt-t', 'swin-t')])
    settings = bench.BenchmarkSettings(
        warmup=0, repeats=2, rounds=3, threads=1, isolate=False, gemm_size=64
    )
    seen = []
    report = bench.run_benchmark(cases, settings, [('smt-t', 'swin-t')], log=seen.append)
    # the cases take turns: smt-t, swin-t, smt-t, swin-t, ...
    names = [line.split('] ', 1)[1] for line in seen if line.startswith('[')]
    assert [n.split()[0] for n in names] == ['backbone/smt-t', 'backbone/swin-t'] * 3
    assert len(report['gemm_peak_flops_rounds']) == 3
    smt, swin = report['results']
    for record in (smt, swin):
        assert record['rounds'] == 3 and record['macs'] > 0
        for phase in ('infer', 'train'):
            times = record[phase]['times_s']
            assert len(times) == 6
            assert record[phase]['median_s'] == statistics.median(times)
            assert record[phase]['min_s'] == min(times) and record[phase]['max_s'] == max(times)
    (ratio,) = report['ratios']
    for name in ('infer_time', 'train_time', 'train_memory'):
        assert len(ratio[f'{name}_rounds']) == 3
    per_round = ratio['train_time_rounds']
    assert min(per_round) > 0
    markdown = bench.format_markdown(report)
    row = next(line for line in markdown.splitlines() if '/ swin-t' in line)
    assert f'({min(per_round):.2f}-{max(per_round):.2f})' in row
    assert report['machine']['env']['MALLOC_ARENA_MAX'] == '2'
    assert 'THP_MEM_ALLOC_ENABLE' not in report['machine']['env']
    assert 'MALLOC_ARENA_MAX=2, ' in markdown and 'in each of 3 rounds' in markdown
    with pytest.raises(ValueError, match='rounds'):
        bench.BenchmarkSettings(rounds=0)


def test_make_cases_and_sizes():
    tool = _load_tool()
    assert tool.parse_size('800x1344x2') == (800, 1344, 2)
    assert tool.parse_size('64x96') == (64, 96, 1)
    with pytest.raises(argparse.ArgumentTypeError):
        tool.parse_size('64')
    cases = bench.make_cases(['smt-s', 'swin-t'], sizes=[(32, 32, 2), (64, 64, 1)], compile=True)
    assert [c.name for c in cases[:4]] == [
        'backbone/smt-s 32x32 b2',
        'backbone/swin-t 32x32 b2',
        'backbone/smt-s +compile 32x32 b2',
        'backbone/swin-t +compile 32x32 b2',
    ]
    assert len(cases) == 8
    with pytest.raises(KeyError, match='unknown backbones'):
        bench.make_cases(['resnet50'])
    with pytest.raises(ValueError, match='device'):
        bench.BenchmarkSettings(device='tpu')


def test_swap_backbone_rewires_channels():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(type='SMT', arch='small', out_indices=(0, 1, 2, 3)),
                decode_head=dict(in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3]),
                auxiliary_head=dict(in_channels=256, in_index=2),
            )
        )
    )
    bench._swap_backbone(cfg.model, 'swin-t')
    assert cfg.model.backbone.type == 'SwinTransformer'
    assert cfg.model.decode_head.in_channels == [96, 192, 384, 768]
    assert cfg.model.auxiliary_head.in_channels == 384


def test_profile_case_groups_operator_time():
    result = bench.profile_case(
        bench.BenchmarkCase('smt-t', 64, 64, 1), bench.BenchmarkSettings(warmup=1), row_limit=5
    )
    assert result['total_s'] > 0
    assert 'Self CPU' in result['table']
    assert sum(result['groups'].values()) == pytest.approx(1.0)
    assert result['groups']['attention'] > 0 and result['groups']['convolution'] > 0


@pytest.mark.slow
@pytest.mark.skipif(not all(p.exists() for p in TOY_CONFIGS), reason='toy configs not shipped')
def test_full_model_cases_with_swin_twins():
    cases = bench.make_cases(
        [], [str(p) for p in TOY_CONFIGS], [(96, 128, 2)], [('smt-t', 'swin-t')]
    )
    assert [(c.model, c.backbone) for c in cases] == [
        ('mask_rcnn_smt_t_toy', 'smt-t'),
        ('mask_rcnn_smt_t_toy', 'swin-t'),
        ('upernet_smt_t_toy', 'smt-t'),
        ('upernet_smt_t_toy', 'swin-t'),
    ]
    settings = bench.BenchmarkSettings(warmup=0, repeats=1, threads=1, isolate=False, gemm_size=128)
    report = bench.run_benchmark(cases, settings, [('smt-t', 'swin-t')], log=None)
    tasks = [r['task'] for r in report['results']]
    assert tasks == ['detection', 'detection', 'segmentation', 'segmentation']
    for record in report['results']:
        assert record['macs'] > 0, record.get('flops_error')
        _check_phase(record['infer'])
        _check_phase(record['train'])
    assert [r['model'] for r in report['ratios']] == ['mask_rcnn_smt_t_toy', 'upernet_smt_t_toy']
