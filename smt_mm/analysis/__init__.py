"""Analysis utilities of smt_mm: speed, memory and FLOP benchmarks."""

from .benchmark import (
    BACKBONES,
    BenchmarkCase,
    BenchmarkSettings,
    count_flops,
    format_markdown,
    machine_info,
    make_cases,
    measure_gemm_peak,
    pair_ratios,
    plot_report,
    profile_case,
    run_benchmark,
    run_case,
    save_report,
    sdpa_flop_jit,
)

__all__ = [
    'BACKBONES',
    'BenchmarkCase',
    'BenchmarkSettings',
    'count_flops',
    'format_markdown',
    'machine_info',
    'make_cases',
    'measure_gemm_peak',
    'pair_ratios',
    'plot_report',
    'profile_case',
    'run_benchmark',
    'run_case',
    'save_report',
    'sdpa_flop_jit',
]
