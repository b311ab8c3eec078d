"""The memory benchmark: samples of the training process and its workers, summary and picture."""

import json
import os

import pytest

from smt_mm.benchmark import memory
from smt_mm.demo import toy_data_options
from smt_mm.toydata import generate_imagenet


def _samples(main, workers):
    return [
        dict(iter=i * 10, main_mb=m, workers_mb=[w], gc_objects=0, history_values=0)
        for i, (m, w) in enumerate(zip(main, workers, strict=True))
    ]


def test_the_summary_tells_a_plateau_from_a_leak():
    plateau = [500 + min(i, 5) * 20 for i in range(11)]  # grows, then flat from iteration 50
    leak = [500 + i * 20 for i in range(11)]  # 2 MB per iteration throughout
    summary = memory.summarize_memory(_samples(plateau, leak))
    assert summary['iters'] == 100
    assert summary['main_mb']['start'] == 500 and summary['main_mb']['peak'] == 600
    assert summary['main_mb']['first_half_mb_per_100_iters'] == pytest.approx(200)
    assert summary['main_mb']['second_half_mb_per_100_iters'] == pytest.approx(0)
    assert summary['workers_mb']['second_half_mb_per_100_iters'] == pytest.approx(200)
    with pytest.raises(ValueError, match='no memory samples'):
        memory.summarize_memory([])


@pytest.mark.slow
def test_the_tool_samples_a_short_run_and_draws_it(load_tool, repo_root, tmp_path):
    data_root = str(tmp_path / 'toy_imagenet')
    generate_imagenet(data_root, num_train_per_class=2, num_val_per_class=1, size=32)
    options = [f'{k}={v}' for k, v in toy_data_options(data_root).items()]
    options += ['train_dataloader.batch_size=4', 'default_hooks.checkpoint.interval=100']
    out_dir, plot = tmp_path / 'out', tmp_path / 'docs' / 'memory.png'
    config = os.path.join(repo_root, 'configs', 'classification', 'smt_t_toy.py')
    load_tool('tools/analysis/benchmark_memory.py').main(
        [config, '--iters', '4', '--interval', '2', '--out-dir', str(out_dir), '--plot', str(plot)]
        + ['--cfg-options', *options]
    )
    samples = memory.read_samples(str(out_dir / 'memory_samples.jsonl'))
    # 8 images in batches of 4: the epoch-based config runs 4 iterations over 2 epochs
    assert [s['iter'] for s in samples] == [0, 2, 4]
    for sample in samples:
        assert sample['main_mb'] > 50
        # the toy config's one worker, and not the other children of this test process
        # (torch's compile workers of an earlier test)
        assert len(sample['workers_mb']) == 1 and sample['workers_mb'][0] > 50
        assert sample['gc_objects'] > 1000
    assert samples[-1]['history_values'] > samples[1]['history_values'] > 0
    summary = json.loads((out_dir / 'memory_summary.json').read_text())
    assert summary['iters'] == 4
    assert summary['command'].startswith('python tools/analysis/benchmark_memory.py ')
    assert summary['main_mb']['end'] == pytest.approx(samples[-1]['main_mb'], abs=0.05)
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
