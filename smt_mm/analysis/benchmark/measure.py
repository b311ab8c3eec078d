"""Side-by-side speed, memory and FLOP benchmark of SMT against Swin.

Every case (a backbone alone, or a full model built from a config) is measured in a fresh
process, so that the allocator state and the peak memory of one case cannot leak into the
next, and all cases of a run share one machine state. For each case the benchmark records:

* inference latency and throughput (``torch.no_grad``, eval mode; a full model runs its data
  preprocessor and its ``mode='tensor'`` forward: the two-stage detector's RoI heads then see
  the RPN's proposals whatever the random weights, and no post-processing is timed),
* the time of one training step: forward, loss, backward and an AdamW step,
* peak memory of each phase: the process' peak resident set size on CPU (``VmHWM``, reset
  between phases through ``/proc/self/clear_refs``) or ``torch.cuda.max_memory_allocated``,
* multiply-accumulates counted by mmengine's :class:`~mmengine.analysis.FlopAnalyzer` with
  attention included (mmengine counts ``matmul``/``bmm``/``linear`` but has no handle for
  ``scaled_dot_product_attention``; :func:`sdpa_flop_jit` adds one through its public
  ``set_op_handle`` API),
* the achieved fraction of the machine's fp32 GEMM peak, measured with a large ``torch.mm``
  in the same run.

Timings are the median over ``repeats`` runs after ``warmup`` runs, with the minimum and
maximum as the spread; CUDA timings synchronise the device around every run.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import logging
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn


def parse_size(text: str) -> tuple[int, int, int]:
    """Parses a command line's ``HxW`` or ``HxWxBATCH`` into ``(height, width, batch)``.

    Args:
        text (str): E.g. ``'800x1344x2'``; batch 1 when left out.

    Returns:
        tuple[int, int, int]: Height, width and batch.
    """
    parts = [int(p) for p in text.lower().split('x')]
    if len(parts) == 2:
        parts.append(1)
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f'size must be HxW or HxWxBATCH, got {text!r}')
    return parts[0], parts[1], parts[2]


def _swin(embed_dims: int, depths: tuple[int, ...], num_heads: tuple[int, ...]) -> dict:
    """The config of mmdet's ``SwinTransformer`` with the settings shared by Swin-T/S/B."""
    return dict(
        type='SwinTransformer',
        embed_dims=embed_dims,
        depths=depths,
        num_heads=num_heads,
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        patch_norm=True,
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
    )


#: Backbone-only cases. Swin uses mmdet's own implementation with the official Swin-T/S/B
#: settings; every backbone gets the stochastic depth of the Mask R-CNN recipes (0.2).
BACKBONES: dict[str, dict[str, Any]] = {
    'smt-t': dict(type='SMT', arch='tiny', drop_path_rate=0.2),
    'smt-s': dict(type='SMT', arch='small', drop_path_rate=0.2),
    'smt-b': dict(type='SMT', arch='base', drop_path_rate=0.2),
    'smt-l': dict(type='SMT', arch='large', drop_path_rate=0.2),
    'swin-t': _swin(96, (2, 2, 6, 2), (3, 6, 12, 24)),
    'swin-s': _swin(96, (2, 2, 18, 2), (3, 6, 12, 24)),
    'swin-b': _swin(128, (2, 2, 18, 2), (4, 8, 16, 32)),
}

#: Channels of the four output stages, used to re-wire necks and heads when a full model's
#: backbone is swapped for its Swin counterpart.
OUT_CHANNELS: dict[str, tuple[int, ...]] = {
    'smt-t': (64, 128, 256, 512),
    'smt-s': (64, 128, 256, 512),
    'smt-b': (64, 128, 256, 512),
    'smt-l': (96, 192, 384, 768),
    'swin-t': (96, 192, 384, 768),
    'swin-s': (96, 192, 384, 768),
    'swin-b': (128, 256, 512, 1024),
}

#: SMT/Swin pairs of similar size compared in the ratio table.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (('smt-s', 'swin-t'), ('smt-b', 'swin-s'))

#: ``(height, width, batch)`` of the default run: classification and detection resolution.
DEFAULT_SIZES: tuple[tuple[int, int, int], ...] = ((224, 224, 16), (800, 1344, 1))

_SMT_ARCH_TO_NAME = {
    't': 'smt-t',
    'tiny': 'smt-t',
    's': 'smt-s',
    'small': 'smt-s',
    'b': 'smt-b',
    'base': 'smt-b',
    'l': 'smt-l',
    'large': 'smt-l',
}
_GIB = 1024**3


@dataclass
class BenchmarkSettings:
    """How every case of a run is measured.

    Args:
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        warmup (int): Untimed runs before the timed ones (they also absorb
            ``torch.compile``'s compilation). Defaults to 1.
        repeats (int): Timed runs; the median, minimum and maximum are reported.
            Defaults to 3.
        rounds (int): How many times the whole list of cases is measured, one case after
            the other in every round. A machine whose speed drifts over minutes (a shared
            VM) then slows SMT and Swin alike: the timed runs of all rounds are pooled, and
            every ratio also lists its value in each round. Defaults to 1.
        amp (str, optional): ``'fp16'`` or ``'bf16'`` to run under ``torch.autocast``;
            fp16 training uses a gradient scaler. None runs in fp32. Defaults to None.
        threads (int, optional): ``torch.set_num_threads`` in every case process. None keeps
            torch's default. Defaults to None.
        train (bool): Whether to time a training step. Defaults to True.
        flops (bool): Whether to count multiply-accumulates. Defaults to True.
        isolate (bool): Whether to run every case in a fresh process. Turning it off is
            faster but lets allocator caches of one case inflate the memory of the next.
            Defaults to True.
        gemm_size (int, optional): Side of the square fp32 ``torch.mm`` that measures the
            GEMM peak. None picks 2048 on CPU and 8192 on CUDA. Defaults to None.
    """

    device: str = 'cpu'
    warmup: int = 1
    repeats: int = 3
    rounds: int = 1
    amp: str | None = None
    threads: int | None = None
    train: bool = True
    flops: bool = True
    isolate: bool = True
    gemm_size: int | None = None

    def __post_init__(self) -> None:
        if self.device not in ('cpu', 'cuda'):
            raise ValueError(f'device must be "cpu" or "cuda", got {self.device!r}')
        if self.amp not in (None, 'fp16', 'bf16'):
            raise ValueError(f'amp must be None, "fp16" or "bf16", got {self.amp!r}')
        if self.repeats < 1 or self.rounds < 1 or self.warmup < 0:
            raise ValueError('repeats and rounds must be >= 1 and warmup >= 0')
        if self.gemm_size is None:
            self.gemm_size = 8192 if self.device == 'cuda' else 2048


@dataclass
class BenchmarkCase:
    """One measured model at one input size.

    Args:
        backbone (str): A key of :data:`BACKBONES` (``'smt-s'``, ``'swin-t'``, ...).
        height (int): Input height.
        width (int): Input width.
        batch (int): Batch size.
        config (str, optional): A detection or segmentation config; the full model is built
            from it with its backbone replaced by ``backbone`` (necks and heads re-wired to
            the new channels). None benchmarks the backbone alone. Defaults to None.
        compile (bool): Whether to ``torch.compile`` the backbone. Defaults to False.
    """

    backbone: str
    height: int
    width: int
    batch: int
    config: str | None = None
    compile: bool = False

    @property
    def model(self) -> str:
        """str: ``'backbone'`` or the config's file stem."""
        return 'backbone' if self.config is None else Path(self.config).stem

    @property
    def name(self) -> str:
        """str: A unique, human-readable label of the case."""
        suffix = ' +compile' if self.compile else ''
        return f'{self.model}/{self.backbone}{suffix} {self.height}x{self.width} b{self.batch}'


def _backbone_name(backbone_cfg: dict[str, Any]) -> str:
    """Names a config's backbone with a :data:`BACKBONES` key."""
    if backbone_cfg.get('type') == 'SMT':
        arch = backbone_cfg.get('arch', 'tiny')
        if isinstance(arch, str) and arch.lower() in _SMT_ARCH_TO_NAME:
            return _SMT_ARCH_TO_NAME[arch.lower()]
    raise ValueError(f'cannot name the backbone {backbone_cfg.get("type")!r} of a config')


def make_cases(
    models: Sequence[str] = ('smt-s', 'swin-t', 'smt-b', 'swin-s'),
    configs: Sequence[str] = (),
    sizes: Sequence[tuple[int, int, int]] = DEFAULT_SIZES,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    compile: bool = False,
) -> list[BenchmarkCase]:
    """Lists the cases of a run.

    Args:
        models (Sequence[str]): Backbone-only cases, keys of :data:`BACKBONES`.
            Defaults to ``('smt-s', 'swin-t', 'smt-b', 'swin-s')``.
        configs (Sequence[str]): Full-model configs with an SMT backbone. Each is measured as
            is and, when its SMT size appears in ``pairs``, again with the paired Swin
            backbone. Defaults to ``()``.
        sizes (Sequence[tuple[int, int, int]]): ``(height, width, batch)`` of every case.
            Defaults to :data:`DEFAULT_SIZES`.
        pairs (Sequence[tuple[str, str]]): SMT/Swin pairs, used to pick the Swin twin of a
            config. Defaults to :data:`DEFAULT_PAIRS`.
        compile (bool): Whether to add a ``torch.compile`` variant of every case.
            Defaults to False.

    Returns:
        list[BenchmarkCase]: The cases, sizes outermost.
    """
    from mmengine.config import Config

    unknown = [name for name in models if name not in BACKBONES]
    if unknown:
        raise KeyError(f'unknown backbones {unknown}; choose from {sorted(BACKBONES)}')
    twins = dict(pairs)
    full: list[tuple[str, str]] = []
    for config in configs:
        smt = _backbone_name(Config.fromfile(config).model.backbone)
        full.append((config, smt))
        if smt in twins:
            full.append((config, twins[smt]))
    cases = []
    for height, width, batch in sizes:
        for compiled in (False, True) if compile else (False,):
            for name in models:
                cases.append(BenchmarkCase(name, height, width, batch, compile=compiled))
            for config, name in full:
                cases.append(
                    BenchmarkCase(name, height, width, batch, config=config, compile=compiled)
                )
    return cases


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Counts the multiply-accumulates of ``aten::scaled_dot_product_attention``.

    ``Q K^T`` costs ``L * S * E`` and ``softmax(.) V`` costs ``L * S * Ev`` per batch and
    head, for a query ``(..., L, E)``, a key ``(..., S, E)`` and a value ``(..., S, Ev)``;
    the softmax itself is not counted, as mmengine does not count it for explicit attention
    either.

    Args:
        inputs (list): The traced op's input values (query, key, value, ...).
        outputs (list): The traced op's output values (unused).

    Returns:
        int: The multiply-accumulates of the op.
    """
    from mmengine.analysis.jit_handles import get_shape

    query, key, value = (get_shape(v) for v in inputs[:3])
    batch = math.prod(query[:-2])
    return batch * query[-2] * key[-2] * (query[-1] + value[-1])


def count_flops(model: nn.Module, inputs: tuple[Any, ...]) -> int:
    """Counts a model's multiply-accumulates with mmengine's ``FlopAnalyzer``.

    Args:
        model (nn.Module): The model, called as ``model(*inputs)``.
        inputs (tuple): Its inputs.

    Returns:
        int: Multiply-accumulates of one call (mmengine counts one MAC as one "flop"),
        attention matmuls included.
    """
    from mmengine.analysis import FlopAnalyzer

    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with torch.no_grad():
        return int(analyzer.total())


def _synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def measure_gemm_peak(
    device: str = 'cpu', size: int = 2048, repeats: int = 5, threads: int | None = None
) -> float:
    """Measures the fp32 GEMM throughput of the machine with a square ``torch.mm``.

    Args:
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        size (int): Side of the square matrices. Defaults to 2048.
        repeats (int): Timed products; the fastest one is the peak. Defaults to 5.
        threads (int, optional): ``torch.set_num_threads`` for the measurement. None keeps
            the current setting. Defaults to None.

    Returns:
        float: The best achieved rate in FLOP/s (a multiply-accumulate counts as 2 FLOPs).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    if device == 'cuda':
        # The fp32 peak, not the TF32 tensor-core peak that cuBLAS would otherwise use.
        torch.backends.cuda.matmul.allow_tf32 = False
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    torch.mm(a, b)
    best = math.inf
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


#: Environment variables recorded with a run (besides glibc's ``MALLOC_*`` tunables).
_TIMING_ENV = (
    'OMP_NUM_THREADS',
    'MKL_NUM_THREADS',
    'THP_MEM_ALLOC_ENABLE',
    'LD_PRELOAD',
    'GLIBC_TUNABLES',
    'PYTORCH_CUDA_ALLOC_CONF',
)


def machine_info(device: str = 'cpu') -> dict[str, Any]:
    """Describes the machine and software a run measures.

    Args:
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.

    Returns:
        dict: CPU model, logical cores, torch threads, load average, memory, library
        versions, the smt_mm git revision, the allocator and thread settings of the
        environment (``env``) and, for CUDA, the GPU's name.
    """
    import mmengine

    cpu = platform.processor() or 'unknown'
    memory_gb = None
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(
                (line.split(':', 1)[1].strip() for line in f if line.startswith('model name')),
                cpu,
            )
        with open('/proc/meminfo') as f:
            memory_gb = round(int(f.readline().split()[1]) / 1024**2, 1)
    except OSError:
        pass
    info: dict[str, Any] = dict(
        cpu=cpu,
        logical_cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        memory_gb=memory_gb,
        load_average=[round(x, 2) for x in os.getloadavg()],
        platform=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
        mmengine=mmengine.__version__,
    )
    for package in ('mmcv', 'mmdet', 'mmseg', 'mmpretrain'):
        try:
            info[package] = __import__(package).__version__
        except ImportError:
            info[package] = None
    try:  # which smt_mm was measured (``-dirty``: with uncommitted changes)
        info['smt_mm_git'] = subprocess.run(
            ['git', 'describe', '--always', '--dirty'],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        info['smt_mm_git'] = None
    # Settings that change CPU timings a lot (allocator, threads): recorded when set.
    info['env'] = {
        k: v for k, v in os.environ.items() if k in _TIMING_ENV or k.startswith('MALLOC_')
    }
    if device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name()
        info['cuda'] = torch.version.cuda
    return info


def _read_status_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


class _PeakMemory:
    """Peak memory of one phase: process RSS on CPU, allocated tensors on CUDA."""

    def __init__(self, device: str) -> None:
        self.device = device

    def reset(self) -> None:
        gc.collect()
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            return
        try:  # hand freed heap pages back so that the next phase starts from its own floor
            ctypes.CDLL('libc.so.6').malloc_trim(0)
        except OSError:
            pass
        try:  # '5' resets VmHWM to the current RSS (Linux >= 4.0)
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        except OSError:
            pass

    def current_gb(self) -> float:
        if self.device == 'cuda':
            return torch.cuda.memory_allocated() / _GIB
        return _read_status_kb('VmRSS') * 1024 / _GIB

    def peak_gb(self) -> float:
        if self.device == 'cuda':
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / _GIB
        return _read_status_kb('VmHWM') * 1024 / _GIB


def _swap_backbone(model_cfg: Any, backbone: str) -> None:
    """Replaces a model config's backbone and re-wires the input channels after it."""
    from mmengine.config import ConfigDict

    channels = OUT_CHANNELS[backbone]
    spec = copy.deepcopy(BACKBONES[backbone])
    spec['out_indices'] = tuple(model_cfg.backbone.get('out_indices', (0, 1, 2, 3)))
    model_cfg.backbone = ConfigDict(spec)
    used = [channels[i] for i in spec['out_indices']]
    neck = model_cfg.get('neck')
    if isinstance(neck, dict) and 'in_channels' in neck:
        neck['in_channels'] = used
    for head_key in ('decode_head', 'auxiliary_head'):
        heads = model_cfg.get(head_key)
        for head in heads if isinstance(heads, list) else [heads]:
            if not isinstance(head, dict) or 'in_channels' not in head:
                continue
            index = head.get('in_index', -1)
            if isinstance(index, int):
                head['in_channels'] = used[index]
            else:
                head['in_channels'] = [used[i] for i in index]


class _Runner:
    """Builds one case and exposes an inference call and a training step."""

    def __init__(self, case: BenchmarkCase, settings: BenchmarkSettings) -> None:
        self.case = case
        self.settings = settings
        device = settings.device
        torch.manual_seed(0)
        if case.config is None:
            import mmdet.models  # noqa: F401  registers mmdet's SwinTransformer
            from mmdet.registry import MODELS

            import smt_mm  # noqa: F401  registers SMT

            self.task = 'backbone'
            self.model = MODELS.build(copy.deepcopy(BACKBONES[case.backbone])).to(device)
            self.inputs = torch.randn(case.batch, 3, case.height, case.width, device=device)
        else:
            self._build_full_model()
        self.params = sum(p.numel() for p in self.model.parameters())
        if case.compile:
            if self.task == 'backbone':
                self.model = torch.compile(self.model)
            else:
                self.model.backbone = torch.compile(self.model.backbone)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.autocast_dtype = dict(fp16=torch.float16, bf16=torch.bfloat16).get(settings.amp or '')
        self.scaler = (
            torch.amp.GradScaler(device) if settings.amp == 'fp16' and device == 'cuda' else None
        )

    def _build_full_model(self) -> None:
        from mmengine.config import Config
        from mmengine.logging import MMLogger
        from mmengine.model import revert_sync_batchnorm
        from mmengine.registry import init_default_scope
        from mmengine.utils import import_modules_from_strings

        case, device = self.case, self.settings.device
        cfg = Config.fromfile(case.config)
        if cfg.get('custom_imports'):
            import_modules_from_strings(**cfg.custom_imports)
        scope = cfg.get('default_scope', 'mmdet')
        init_default_scope(scope)
        if _backbone_name(cfg.model.backbone) != case.backbone:
            _swap_backbone(cfg.model, case.backbone)
        # Random weights: no checkpoint is read.
        cfg.model.backbone.pop('init_cfg', None)
        cfg.model.pop('pretrained', None)
        if scope == 'mmdet':
            from mmdet.registry import MODELS
            from mmdet.testing import demo_mm_inputs

            self.task = 'detection'
            num_classes = _num_classes(cfg.model, default=80)
            self.data = demo_mm_inputs(
                batch_size=case.batch,
                image_shapes=[(3, case.height, case.width)] * case.batch,
                num_items=[5] * case.batch,
                num_classes=num_classes,
                with_mask=True,
            )
        elif scope == 'mmseg':
            from mmseg.registry import MODELS

            self.task = 'segmentation'
            cfg.model.data_preprocessor.size = (case.height, case.width)
            self.data = _seg_inputs(case, _num_classes(cfg.model, default=150))
        else:
            raise ValueError(f'unsupported default_scope {scope!r} in {case.config}')
        # One process, no process group: SyncBN of the recipes becomes BN.
        self.model = revert_sync_batchnorm(MODELS.build(cfg.model))
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights logs every parameter otherwise
        try:
            self.model.init_weights()
        finally:
            logger.setLevel(level)
        self.model.to(device)

    def _autocast(self) -> Any:
        return torch.autocast(
            self.settings.device,
            dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )

    def infer(self) -> None:
        self.model.eval()
        with torch.no_grad(), self._autocast():
            if self.task == 'backbone':
                self.model(self.inputs)
            else:
                data = self.model.data_preprocessor(self.data, False)
                self.model(**data, mode='tensor')

    def train_step(self) -> None:
        self.model.train()
        with self._autocast():
            if self.task == 'backbone':
                loss = sum(out.float().mean() for out in self.model(self.inputs))
            else:
                data = self.model.data_preprocessor(self.data, True)
                losses = self.model(**data, mode='loss')
                loss, _ = self.model.parse_losses(losses)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()

    def flops(self) -> int:
        self.model.eval()
        model = getattr(self.model, '_orig_mod', self.model)
        if self.task == 'backbone':
            return count_flops(model, (self.inputs,))
        data = self.model.data_preprocessor(self.data, False)
        return count_flops(_TensorMode(model, data['data_samples']), (data['inputs'],))


class _TensorMode(nn.Module):
    """Wraps a detector/segmentor's tensor-mode forward for jit tracing."""

    def __init__(self, model: nn.Module, data_samples: list[Any]) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor) -> Any:
        return self.model(inputs, self.data_samples, mode='tensor')


def _num_classes(model_cfg: Any, default: int) -> int:
    """Finds ``num_classes`` in a model config's heads."""
    for head_key in ('roi_head', 'decode_head', 'bbox_head'):
        head = model_cfg.get(head_key)
        if isinstance(head, dict):
            bbox_head = head.get('bbox_head', head)
            if isinstance(bbox_head, dict) and 'num_classes' in bbox_head:
                return int(bbox_head['num_classes'])
    return default


def _seg_inputs(case: BenchmarkCase, num_classes: int) -> dict[str, list[Any]]:
    """Random images and label maps in the format of mmseg's ``PackSegInputs``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    generator = torch.Generator().manual_seed(0)
    shape = (case.height, case.width)
    inputs, samples = [], []
    for _ in range(case.batch):
        inputs.append(torch.randint(0, 256, (3, *shape), dtype=torch.uint8, generator=generator))
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, *shape), generator=generator)
        )
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _time(fn: Callable[[], None], device: str, warmup: int, repeats: int) -> dict[str, Any]:
    """Runs ``fn`` ``warmup + repeats`` times and summarises the timed runs."""
    first = None
    for i in range(warmup):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        if i == 0:
            first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return dict(
        median_s=statistics.median(times),
        min_s=min(times),
        max_s=max(times),
        times_s=times,
        first_s=first,
    )


def run_case(case: BenchmarkCase, settings: BenchmarkSettings) -> dict[str, Any]:
    """Measures one case in the current process.

    Args:
        case (BenchmarkCase): What to measure.
        settings (BenchmarkSettings): How to measure it.

    Returns:
        dict: The case's description, parameters, inference and training timings (seconds),
        throughputs (images/s), peak memory per phase (GiB) and multiply-accumulates.
    """
    import smt_mm  # noqa: F401  registers SMT in a fresh process

    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    if settings.device == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    memory = _PeakMemory(settings.device)
    runner = _Runner(case, settings)
    record: dict[str, Any] = dict(
        name=case.name,
        model=case.model,
        backbone=case.backbone,
        config=case.config,
        height=case.height,
        width=case.width,
        batch=case.batch,
        compile=case.compile,
        task=runner.task,
        params_m=runner.params / 1e6,
        threads=torch.get_num_threads(),
        pid=os.getpid(),
    )
    memory.reset()
    record['memory_base_gb'] = memory.current_gb()
    infer = _time(runner.infer, settings.device, settings.warmup, settings.repeats)
    infer['throughput'] = case.batch / infer['median_s']
    infer['peak_memory_gb'] = memory.peak_gb()
    record['infer'] = infer
    if settings.train and runner.task == 'segmentation' and case.batch < 2:
        # The pooled 1x1 branch of UPerNet's PPM has BatchNorm, which cannot train on batch 1.
        record['train_skipped'] = 'segmentation training needs batch >= 2'
    elif settings.train:
        memory.reset()
        train = _time(runner.train_step, settings.device, settings.warmup, settings.repeats)
        train['throughput'] = case.batch / train['median_s']
        train['peak_memory_gb'] = memory.peak_gb()
        record['train'] = train
    if settings.flops and not case.compile:  # compiling changes no MAC: see run_benchmark
        try:
            record['macs'] = runner.flops()
        except Exception as error:  # a model jit cannot trace still gets its timings
            record['macs'] = None
            record['flops_error'] = f'{type(error).__name__}: {error}'
    return record


def _run_isolated(case: BenchmarkCase, settings: BenchmarkSettings) -> dict[str, Any]:
    """Runs :func:`run_case` in a fresh spawned process."""
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_case, case, settings).result()


def pair_ratios(
    results: Iterable[dict[str, Any]], pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS
) -> list[dict[str, Any]]:
    """Divides SMT's numbers by its Swin counterpart's, for cases measured in the same run.

    Args:
        results (Iterable[dict]): Records of :func:`run_case`.
        pairs (Sequence[tuple[str, str]]): ``(smt, swin)`` backbone pairs.
            Defaults to :data:`DEFAULT_PAIRS`.

    Returns:
        list[dict]: One entry per pair, model and size present in ``results``, with the time
        ratios (< 1 means SMT is faster), the peak-memory ratios and the throughput ratio.
    """
    index = {
        (r['model'], r['backbone'], r['height'], r['width'], r['batch'], r['compile']): r
        for r in results
    }
    ratios = []
    for (model, backbone, height, width, batch, compiled), smt in index.items():
        for smt_name, swin_name in pairs:
            if backbone != smt_name:
                continue
            swin = index.get((model, swin_name, height, width, batch, compiled))
            if swin is None:
                continue
            entry: dict[str, Any] = dict(
                model=model,
                smt=smt_name,
                swin=swin_name,
                height=height,
                width=width,
                batch=batch,
                compile=compiled,
                infer_time=smt['infer']['median_s'] / swin['infer']['median_s'],
                infer_throughput=smt['infer']['throughput'] / swin['infer']['throughput'],
                infer_memory=smt['infer']['peak_memory_gb'] / swin['infer']['peak_memory_gb'],
            )
            if 'train' in smt and 'train' in swin:
                entry['train_time'] = smt['train']['median_s'] / swin['train']['median_s']
                entry['train_memory'] = (
                    smt['train']['peak_memory_gb'] / swin['train']['peak_memory_gb']
                )
            if smt.get('macs') and swin.get('macs'):
                entry['macs'] = smt['macs'] / swin['macs']
            ratios.append(entry)
    return ratios


def run_benchmark(
    cases: Sequence[BenchmarkCase],
    settings: BenchmarkSettings | None = None,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Measures every case, side by side, in one run.

    Args:
        cases (Sequence[BenchmarkCase]): The cases, e.g. from :func:`make_cases`.
        settings (BenchmarkSettings, optional): How to measure. None uses the defaults.
            Defaults to None.
        pairs (Sequence[tuple[str, str]]): SMT/Swin pairs of the ratio table.
            Defaults to :data:`DEFAULT_PAIRS`.
        log (Callable, optional): Receives a progress line per case. Defaults to ``print``.

    Returns:
        dict: ``machine`` facts, ``settings``, the measured ``gemm_peak_flops``, one record
        per case in ``results`` (with ``achieved_gemm_fraction`` where MACs are known) and
        the SMT/Swin ``ratios``.
    """
    settings = settings or BenchmarkSettings()
    machine = machine_info(settings.device)
    start = time.time()
    gemm_size = settings.gemm_size or 2048
    gemm_peaks: list[float] = []
    rounds: list[list[dict[str, Any]]] = []
    for round_index in range(settings.rounds):
        gemm_peaks.append(measure_gemm_peak(settings.device, gemm_size, threads=settings.threads))
        # MACs do not change between rounds: count them in the first one only.
        round_settings = settings if round_index == 0 else replace(settings, flops=False)
        records: list[dict[str, Any]] = []
        for i, case in enumerate(cases):
            if log is not None:
                prefix = f'round {round_index + 1}/{settings.rounds} ' * (settings.rounds > 1)
                log(f'[{prefix}{i + 1}/{len(cases)}] {case.name}')
            if settings.isolate:
                record = _run_isolated(case, round_settings)
            else:
                record = run_case(case, round_settings)
            records.append(record)
            if log is not None:
                log('    ' + _summary_line(record))
        rounds.append(records)
    gemm_peak = statistics.median(gemm_peaks)
    results = [_merge_rounds(list(records)) for records in zip(*rounds, strict=True)]
    for case, record in zip(cases, results, strict=True):
        if case.compile and settings.flops:
            record['macs'] = next(
                (r.get('macs') for r in results if r['name'] == case.name[: -len(' +compile')]),
                None,
            )
        if record.get('macs'):
            flops = 2 * record['macs']
            record['infer']['achieved_gemm_fraction'] = (
                flops / record['infer']['median_s'] / gemm_peak
            )
            if 'train' in record:
                # Backward costs about twice the forward: a step is ~3x the forward's FLOPs.
                record['train']['achieved_gemm_fraction'] = (
                    3 * flops / record['train']['median_s'] / gemm_peak
                )
    ratios = pair_ratios(results, pairs)
    if settings.rounds > 1:
        _add_round_ratios(ratios, [pair_ratios(records, pairs) for records in rounds])
    machine['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    return dict(
        machine=machine,
        settings=asdict(settings),
        gemm_peak_flops=gemm_peak,
        gemm_peak_flops_rounds=gemm_peaks,
        wall_time_s=time.time() - start,
        results=results,
        ratios=ratios,
    )


#: The ratios of :func:`pair_ratios` that are also listed round by round.
_ROUND_RATIOS = ('infer_time', 'train_time', 'train_memory')


def _merge_rounds(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Pools the timed runs of one case over the rounds of a run.

    The times of all rounds give the median, minimum and maximum; the peak memory is the
    highest of the rounds; everything else comes from the first round.
    """
    merged = dict(records[0])
    merged['rounds'] = len(records)
    for phase in ('infer', 'train'):
        if phase not in merged:
            continue
        times = [t for r in records for t in r[phase]['times_s']]
        median = statistics.median(times)
        merged[phase] = dict(
            records[0][phase],
            median_s=median,
            min_s=min(times),
            max_s=max(times),
            times_s=times,
            throughput=merged['batch'] / median,
            peak_memory_gb=max(r[phase]['peak_memory_gb'] for r in records),
        )
    return merged


def _add_round_ratios(ratios: list[dict[str, Any]], per_round: list[list[dict[str, Any]]]) -> None:
    """Adds ``<ratio>_rounds`` lists (one value per round) to the pooled ratio entries."""

    def key(entry: dict[str, Any]) -> tuple:
        names = ('model', 'smt', 'swin', 'height', 'width', 'batch', 'compile')
        return tuple(entry[k] for k in names)

    for entry in ratios:
        matches = [
            next(e for e in round_ratios if key(e) == key(entry)) for round_ratios in per_round
        ]
        for name in _ROUND_RATIOS:
            if name in entry:
                entry[f'{name}_rounds'] = [m[name] for m in matches]


def _summary_line(record: dict[str, Any]) -> str:
    parts = [f'infer {record["infer"]["median_s"]:.3f} s']
    if 'train' in record:
        parts.append(f'train {record["train"]["median_s"]:.3f} s')
        parts.append(f'peak {record["train"]["peak_memory_gb"]:.2f} GiB')
    if record.get('macs'):
        parts.append(f'{record["macs"] / 1e9:.1f} GMac')
    return ', '.join(parts)


def _spread(phase: dict[str, Any]) -> str:
    return f'{phase["median_s"]:.3f} ({phase["min_s"]:.3f}-{phase["max_s"]:.3f})'


def _fraction(phase: dict[str, Any]) -> str:
    value = phase.get('achieved_gemm_fraction')
    return '-' if value is None else f'{100 * value:.1f}%'


def format_markdown(report: dict[str, Any]) -> str:
    """Renders a report of :func:`run_benchmark` as Markdown tables.

    Args:
        report (dict): The report.

    Returns:
        str: A machine line, the per-case table and the SMT/Swin ratio table.
    """
    machine, settings = report['machine'], report['settings']
    memory_kind = 'CUDA max allocated' if settings['device'] == 'cuda' else 'peak RSS'
    device = machine.get('gpu', machine['cpu']) if settings['device'] == 'cuda' else machine['cpu']
    env = ''.join(f'{k}={v}, ' for k, v in machine.get('env', {}).items())
    rounds = settings.get('rounds', 1)
    timing = f'{settings["warmup"]} warm-up + {settings["repeats"]} timed runs'
    if rounds > 1:
        timing += (
            f' in each of {rounds} rounds (cases in turn; a ratio range spans its lowest and '
            'highest round)'
        )
    lines = [
        f'Machine: {device}, {machine["logical_cores"]} logical cores, '
        f'{machine["torch_threads"]} torch threads, torch {machine["torch"]}, '
        f'smt_mm {machine.get("smt_mm_git")}, {env}'
        f'load average {machine["load_average"][0]} at start / '
        f'{machine.get("load_average_end", ["?"])[0]} at end. '
        f'Device {settings["device"]}, {settings["amp"] or "fp32"}, {timing}, '
        f'measured fp32 GEMM peak {report["gemm_peak_flops"] / 1e9:.1f} GFLOP/s.',
        '',
        '| case | size | params (M) | GMac | inference s, median (min-max) | img/s '
        f'| GEMM peak | train step s, median (min-max) | GEMM peak | {memory_kind} '
        'infer / train (GiB) |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in report['results']:
        label = f'{r["model"]}/{r["backbone"]}' + (' +compile' if r['compile'] else '')
        macs = '-' if not r.get('macs') else f'{r["macs"] / 1e9:.1f}'
        infer, train = r['infer'], r.get('train')
        cells = [
            label,
            f'{r["height"]}x{r["width"]} b{r["batch"]}',
            f'{r["params_m"]:.1f}',
            macs,
            _spread(infer),
            f'{infer["throughput"]:.2f}',
            _fraction(infer),
            _spread(train) if train else '-',
            _fraction(train) if train else '-',
            f'{infer["peak_memory_gb"]:.2f} / '
            + (f'{train["peak_memory_gb"]:.2f}' if train else '-'),
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    if report['ratios']:
        lines += [
            '',
            '| SMT / Swin | model | size | inference time | throughput | train step time '
            '| train peak memory | MACs |',
            '|---|---|---|---|---|---|---|---|',
        ]
        for q in report['ratios']:
            label = f'{q["smt"]} / {q["swin"]}' + (' +compile' if q['compile'] else '')
            lines.append(
                f'| {label} | {q["model"]} | {q["height"]}x{q["width"]} b{q["batch"]} '
                f'| {_ratio(q["infer_time"], q.get("infer_time_rounds"))} '
                f'| {q["infer_throughput"]:.2f} '
                f'| {_ratio(q.get("train_time"), q.get("train_time_rounds"))} '
                f'| {_ratio(q.get("train_memory"), q.get("train_memory_rounds"))} '
                f'| {_ratio(q.get("macs"))} |'
            )
    return '\n'.join(lines) + '\n'


def _ratio(value: float | None, rounds: list[float] | None = None) -> str:
    if value is None:
        return '-'
    if not rounds:
        return f'{value:.2f}'
    return f'{value:.2f} ({min(rounds):.2f}-{max(rounds):.2f})'


def plot_report(report: dict[str, Any], path: str | Path) -> None:
    """Draws inference and training-step times of every case as a bar chart (PNG).

    Args:
        report (dict): A report of :func:`run_benchmark`.
        path (str | Path): Where to write the image.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    results = report['results']
    phases = ['infer'] + (['train'] if any('train' in r for r in results) else [])
    figure, axes = plt.subplots(
        1,
        len(phases),
        figsize=(6 * len(phases), max(3.0, 1.2 + 0.45 * len(results))),
        squeeze=False,
    )
    labels = [
        f'{r["model"]}/{r["backbone"]}{" +c" if r["compile"] else ""} '
        f'{r["height"]}x{r["width"]} b{r["batch"]}'
        for r in results
    ]
    for axis, phase in zip(axes[0], phases, strict=True):
        values = [r[phase]['median_s'] if phase in r else 0.0 for r in results]
        errors = [
            [r[phase]['median_s'] - r[phase]['min_s'] for r in results if phase in r],
            [r[phase]['max_s'] - r[phase]['median_s'] for r in results if phase in r],
        ]
        colors = ['tab:red' if r['backbone'].startswith('smt') else 'tab:blue' for r in results]
        positions = range(len(results))
        if all(phase in r for r in results):
            axis.barh(positions, values, xerr=errors, color=colors)
        else:
            axis.barh(positions, values, color=colors)
        axis.set_yticks(list(positions), labels, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlabel('seconds per batch (median, min-max)')
        axis.set_title('inference' if phase == 'infer' else 'training step')
    figure.suptitle(f'SMT (red) vs Swin (blue), {report["settings"]["device"]}')
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


_PROFILE_GROUPS = (
    ('attention', ('scaled_dot_product', 'flash_attention', 'softmax', 'bmm', 'matmul', 'baddbmm')),
    ('convolution', ('conv', 'mkldnn_convolution')),
    ('linear / GEMM', ('addmm', 'aten::mm', 'linear')),
    ('layout copies', ('copy_', 'clone', 'contiguous', 'permute', 'transpose', 'reshape', 'cat')),
    ('normalisation', ('layer_norm', 'batch_norm', 'group_norm')),
    ('activation', ('gelu', 'relu', 'silu')),
)


def profile_case(
    case: BenchmarkCase,
    settings: BenchmarkSettings | None = None,
    mode: str = 'infer',
    row_limit: int = 25,
) -> dict[str, Any]:
    """Profiles one case with ``torch.profiler`` in the current process.

    Args:
        case (BenchmarkCase): The case.
        settings (BenchmarkSettings, optional): Device, precision, threads and warm-up.
            None uses the defaults. Defaults to None.
        mode (str): ``'infer'`` or ``'train'`` (a whole training step). Defaults to
            ``'infer'``.
        row_limit (int): Rows of the operator table. Defaults to 25.

    Returns:
        dict: ``table`` (the top operators by self time, as torch formats it), ``total_s``
        (self time of all operators) and ``groups`` (share of the self time per kind of
        operator: attention, convolution, layout copies, ...).
    """
    from torch.profiler import ProfilerActivity, profile

    import smt_mm  # noqa: F401

    settings = settings or BenchmarkSettings()
    if mode not in ('infer', 'train'):
        raise ValueError(f'mode must be "infer" or "train", got {mode!r}')
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    runner = _Runner(case, settings)
    step = runner.infer if mode == 'infer' else runner.train_step
    for _ in range(max(settings.warmup, 1)):
        step()
    activities = [ProfilerActivity.CPU]
    if settings.device == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        step()
        _synchronize(settings.device)
    averages = prof.key_averages()
    attr = 'self_device_time_total' if settings.device == 'cuda' else 'self_cpu_time_total'
    total = sum(getattr(e, attr) for e in averages)
    groups: dict[str, float] = {}
    for event in averages:
        group = next(
            (g for g, keys in _PROFILE_GROUPS if any(k in event.key for k in keys)), 'other'
        )
        groups[group] = groups.get(group, 0.0) + getattr(event, attr)
    return dict(
        case=case.name,
        mode=mode,
        table=averages.table(sort_by=attr, row_limit=row_limit),
        total_s=total / 1e6,
        groups={g: t / total for g, t in sorted(groups.items(), key=lambda x: -x[1])},
    )


def save_report(report: dict[str, Any], out_dir: str | Path, plot: bool = False) -> list[Path]:
    """Writes ``benchmark.json``, ``benchmark.md`` and optionally ``benchmark.png``.

    Args:
        report (dict): A report of :func:`run_benchmark`.
        out_dir (str | Path): The output folder, created when missing.
        plot (bool): Whether to draw the chart. Defaults to False.

    Returns:
        list[Path]: The written files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / 'benchmark.json', out / 'benchmark.md']
    paths[0].write_text(json.dumps(report, indent=2) + '\n')
    paths[1].write_text(format_markdown(report))
    if plot:
        paths.append(out / 'benchmark.png')
        plot_report(report, paths[-1])
    return paths
