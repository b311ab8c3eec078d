"""Tests of the A/B timing of SMT's optimised paths (no timing assertions)."""

import importlib.util
import json
from pathlib import Path

import pytest

from smt_mm.analysis import PLAIN_PATHS, compare_paths, plain_path
from smt_mm.models.backbones import smt as smt_module

REPO = Path(__file__).resolve().parents[2]
#: A tiny arch whose SAM still has the 9 x 9 kernel (4 heads).
TINY = dict(embed_dims=(16, 32, 48, 64), depths=(1, 1, 2, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)


def test_plain_path_swaps_and_restores_the_functions():
    originals = {a: getattr(smt_module, a) for p in PLAIN_PATHS.values() for a in p}
    with plain_path('inplace-gelu'):
        assert smt_module._gelu_ is PLAIN_PATHS['inplace-gelu']['_gelu_']
        assert smt_module._large_depthwise is originals['_large_depthwise']
    with pytest.raises(RuntimeError), plain_path('large-depthwise'):
        assert smt_module._large_depthwise is smt_module._depthwise
        raise RuntimeError  # restored even when the body fails
    assert all(getattr(smt_module, a) is f for a, f in originals.items())
    with pytest.raises(ValueError, match='known paths: inplace-gelu, large-depthwise'):
        with plain_path('fused-everything'):
            pass


@pytest.mark.parametrize('train', [False, True])
def test_compare_paths_times_both_variants_with_equal_outputs(train):
    results = compare_paths(TINY, 48, 40, 2, train=train, steps=2)
    assert [r['path'] for r in results] == list(PLAIN_PATHS)
    for r in results:
        assert r['mode'] == ('train' if train else 'infer')
        assert len(r['optimised_s']) == len(r['plain_s']) == 2
        assert r['ratio'] == min(r['optimised_s']) / min(r['plain_s']) > 0
        assert r['max_abs_diff'] <= 1e-5
    with pytest.raises(ValueError, match='steps'):
        compare_paths(TINY, 32, 32, 1, steps=0)


def test_tool_end_to_end(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('ab_tool', REPO / 'tools/analysis/ab_paths.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'ab.json'
    args = ['--arch', 'tiny', '--size', '64x64x1', '--mode', 'train', '--steps', '1']
    tool.main([*args, '--paths', 'inplace-gelu', '--threads', '1', '--json', str(out)])
    printed = capsys.readouterr().out
    assert 'SMT tiny, 64x64 b1, train, 1 threads' in printed
    assert '| inplace-gelu |' in printed and 'large-depthwise' not in printed
    (record,) = json.loads(out.read_text())
    assert record['path'] == 'inplace-gelu' and record['max_abs_diff'] <= 1e-5
