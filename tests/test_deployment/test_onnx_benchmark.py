"""ONNX Runtime against PyTorch, timed side by side (``smt_mm.benchmark.onnx_runtime``)."""

import math
import os.path as osp

import pytest
from conftest import REPO_ROOT

from smt_mm import benchmark as bench
from smt_mm.benchmark.onnx_runtime import SpeedCase, format_onnx_markdown, run_onnx_benchmark
from smt_mm.deployment import set_smt_path
from smt_mm.models.backbones.smt import SMT

MINI = dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)


def test_set_smt_path_switches_every_smt_backbone():
    model = SMT(arch=MINI, fused=True)
    assert set_smt_path(model) == 1 and model.fused is False
    assert set_smt_path(model, 'auto') == 1 and model.fused_mode == 'auto'


def test_backbone_case_is_timed_with_both_runtimes(monkeypatch, tmp_path):
    pytest.importorskip('onnxruntime')
    monkeypatch.setitem(bench.BACKBONES, 'smt-t', dict(type='SMT', arch=MINI))
    settings = bench.BenchmarkSettings(warmup=0, repeats=2, rounds=2, threads=1, isolate=False)
    lines = []
    report = run_onnx_benchmark(
        [SpeedCase('smt-t', 32, 48)], settings, str(tmp_path), 'torchscript', lines.append
    )
    assert (tmp_path / 'smt-t_32x48.onnx').is_file()
    assert lines[0] == 'exporting smt-t at 32x48' and len(lines) == 3  # export, two rounds
    (result,) = report['results']
    for runtime in ('pytorch', 'onnxruntime'):
        times = result[runtime]
        assert 0 < times['min_s'] <= times['median_s'] <= times['max_s']
    assert len(result['ratio_rounds']) == 2 and math.isfinite(result['ratio'])
    assert report['settings']['exporter'] == 'torchscript'
    assert '| smt-t | 32x48 b1 |' in format_onnx_markdown(report)
    with pytest.raises(ValueError, match='runs on the CPU'):
        run_onnx_benchmark([], bench.BenchmarkSettings(device='cuda'), str(tmp_path))


def test_tool_reads_config_cases(load_tool):
    tool = load_tool('tools/deployment/benchmark_onnx.py')
    config = osp.join(REPO_ROOT, 'configs', 'detection', 'mask_rcnn_smt_t_toy.py')
    case = tool.config_case(f'{config}@64x96x2')
    assert (case.height, case.width, case.batch, case.what) == (64, 96, 2, 'backbone')
    assert case.name == 'mask_rcnn_smt_t_toy (backbone + neck)'
    case = tool.config_case(osp.join(REPO_ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py'))
    assert (case.batch, case.what) == (1, 'model') and case.height > 0
