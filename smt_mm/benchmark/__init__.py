"""Side-by-side speed, memory and MAC benchmark of SMT against Swin, or of SMT's two paths.

:mod:`.cases` says what is measured (backbones, full models from configs, the pairs compared),
:mod:`.measure` times every case in a fresh process and divides each model's numbers by its
baseline's, :mod:`.report` writes the machine, the JSON and the Markdown tables.
:mod:`.onnx_runtime` times an exported ONNX file against PyTorch the same way (import it
directly: it needs the ``deploy`` extra to run). :mod:`.memory` follows the memory of a training
run over its iterations (import it directly: it registers its sampling hook).
"""

from .cases import BACKBONES, DEFAULT_PAIRS, DEFAULT_SIZES, BenchmarkCase, CaseModel, make_cases
from .measure import BenchmarkSettings, pair_ratios, run_benchmark, run_case, time_runs
from .report import format_markdown, machine_info, save_report

__all__ = ['BACKBONES', 'DEFAULT_PAIRS', 'DEFAULT_SIZES', 'BenchmarkCase', 'BenchmarkSettings']
__all__ += ['CaseModel', 'format_markdown', 'machine_info', 'make_cases', 'pair_ratios']
__all__ += ['run_benchmark', 'run_case', 'save_report', 'time_runs']
