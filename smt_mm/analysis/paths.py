"""A/B timing of SMT's optimised code paths against plain PyTorch, in one process.

Each optimised path of :mod:`smt_mm.models.backbones.smt` that has a plain-PyTorch equivalent
is listed in :data:`PLAIN_PATHS`. :func:`compare_paths` times one model with the path as
shipped and with the plain equivalent swapped in, step by step in turn, so that a machine whose
speed drifts slows both alike, and checks that both give the same outputs.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from ..models.backbones import smt as smt_module

#: name -> {function of the SMT module: its plain-PyTorch replacement}
PLAIN_PATHS: dict[str, dict[str, Callable[..., Any]]] = {
    # GELU of temporary maps in place, GELU gradient over its own input
    'inplace-gelu': dict(
        _activate=lambda act, x: act(x),
        _gelu_=F.gelu,
        _gelu_backward_=torch.ops.aten.gelu_backward,
    ),
    # the per-image kernel gradient of SAM's 9 x 9 depthwise convolution (CPU, training)
    'large-depthwise': dict(_large_depthwise=smt_module._depthwise),
}


def _check_path(name: str) -> None:
    if name not in PLAIN_PATHS:
        raise ValueError(f'unknown path {name!r}; known paths: {", ".join(PLAIN_PATHS)}')


@contextmanager
def plain_path(name: str) -> Iterator[None]:
    """Runs SMT with the plain-PyTorch equivalent of path ``name`` inside the context.

    Args:
        name (str): A key of :data:`PLAIN_PATHS`.
    """
    _check_path(name)
    saved = {attr: getattr(smt_module, attr) for attr in PLAIN_PATHS[name]}
    try:
        for attr, plain in PLAIN_PATHS[name].items():
            setattr(smt_module, attr, plain)
        yield
    finally:
        for attr, original in saved.items():
            setattr(smt_module, attr, original)


def compare_paths(
    arch: str | dict,
    height: int,
    width: int,
    batch: int,
    train: bool = False,
    steps: int = 3,
    paths: Sequence[str] = tuple(PLAIN_PATHS),
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Times an SMT backbone with each optimised path against its plain equivalent.

    For each path, one warm-up step of either variant, then ``steps`` steps of each, in turn.
    A step is an inference forward (``torch.no_grad``, eval mode) or, with ``train``, a
    forward and backward of the mean of every output map (train mode, no stochastic depth).

    Args:
        arch (str | dict): An SMT arch name or dict.
        height (int): Input height.
        width (int): Input width.
        batch (int): Batch size.
        train (bool): Time training steps instead of inference. Defaults to False.
        steps (int): Timed steps per variant. Defaults to 3.
        paths (Sequence[str]): Keys of :data:`PLAIN_PATHS`. Defaults to all of them.
        seed (int): Seed of the weights and the input. Defaults to 0.

    Returns:
        list[dict]: Per path: the optimised and plain step times (s), the ratio of the best
        times (optimised / plain, < 1 means the optimised path is faster) and the largest
        absolute difference between the two variants' outputs.
    """
    if steps < 1:
        raise ValueError(f'steps must be >= 1, got {steps}')
    for name in paths:  # before any model is built
        _check_path(name)
    torch.manual_seed(seed)
    model = smt_module.SMT(arch, out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    model.train(train)
    inputs = torch.randn(batch, 3, height, width)

    def outputs() -> list[torch.Tensor]:
        with torch.set_grad_enabled(train):
            return [o.detach() for o in model(inputs)]

    def step() -> float:
        start = time.perf_counter()
        if train:
            model.zero_grad(set_to_none=True)
            sum(o.mean() for o in model(inputs)).backward()
        else:
            with torch.no_grad():
                model(inputs)
        return time.perf_counter() - start

    results = []
    for name in paths:
        optimised = outputs()
        with plain_path(name):
            plain = outputs()
        diff = max((a - b).abs().max().item() for a, b in zip(optimised, plain, strict=True))
        times: dict[str, list[float]] = dict(optimised=[], plain=[])
        for _ in range(steps + 1):
            times['optimised'].append(step())
            with plain_path(name):
                times['plain'].append(step())
        times = {k: v[1:] for k, v in times.items()}  # the first step of each is a warm-up
        results.append(
            dict(
                path=name,
                mode='train' if train else 'infer',
                optimised_s=times['optimised'],
                plain_s=times['plain'],
                ratio=min(times['optimised']) / min(times['plain']),
                max_abs_diff=diff,
            )
        )
    return results
