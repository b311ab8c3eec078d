"""Effective receptive fields (ERF) of any backbone whose forward returns NCHW stage outputs.

The ERF of a stage is the gradient of its central output pixel with respect to the input
image, as in the large-kernel ConvNet literature (Luo et al. 2016; RepLKNet, Ding et al. 2022):
the objective is the sum over channels of the ReLU of the output vector at the centre of the
stage's map (a plain channel sum of a LayerNorm output is constant), the contribution of each
input pixel is the absolute gradient summed over its colour channels, and the maps of the
images, each scaled to sum 1, are added up. :func:`contribution_areas` turns a map into
numbers: the fewest input pixels that hold a given share (e.g. 20 / 50 / 90 %) of the total
contribution.
"""

import os.path as osp
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..models.backbones.smt import SMT

#: The shares of the total contribution reported by default.
FRACTIONS: tuple[float, ...] = (0.2, 0.5, 0.9)

#: How a model without trained weights is marked in tables, JSON reports and pictures.
UNTRAINED = 'untrained (random init)'


def _pretrained_files(node: Any) -> list[str]:
    """The ``checkpoint`` of every ``init_cfg`` of type ``Pretrained`` in a config tree."""
    found = []
    if isinstance(node, Mapping):
        if node.get('type') == 'Pretrained' and node.get('checkpoint'):
            found.append(str(node['checkpoint']))
        for value in node.values():
            found += _pretrained_files(value)
    elif isinstance(node, list | tuple):
        for value in node:
            found += _pretrained_files(value)
    return found


def weights_source(model_cfg: Mapping, checkpoint: str | None) -> str:
    """Where a model's weights come from, in words for a table or a picture.

    Args:
        model_cfg (Mapping): The config's ``model``.
        checkpoint (str, optional): The checkpoint loaded into it, or None.

    Returns:
        str: ``'checkpoint <file name>'``; without one ``'init_cfg Pretrained <file name>'``
        when the config loads pretrained weights itself; else :data:`UNTRAINED`.
    """
    if checkpoint:
        return f'checkpoint {osp.basename(checkpoint)}'
    pretrained = _pretrained_files(model_cfg)
    if pretrained:
        return f'init_cfg Pretrained {osp.basename(pretrained[0])}'
    return UNTRAINED


def check_comparable(sources: Mapping[str, str], allow_untrained: bool = False) -> None:
    """Refuse to compare trained models with untrained ones unless asked to.

    Args:
        sources (Mapping[str, str]): Model label -> :func:`weights_source`; the first model
            is the one measured, the others are compared with it.
        allow_untrained (bool): Compare anyway (the untrained side is marked
            :data:`UNTRAINED` wherever it is shown). Defaults to False.

    Raises:
        ValueError: If some models are trained and others are not, and ``allow_untrained``
            is False; the message names them and the options that resolve it.
    """
    untrained = [label for label, source in sources.items() if source == UNTRAINED]
    if allow_untrained or not untrained or len(untrained) == len(sources):
        return
    first = next(iter(sources))
    fix = (
        'pass its checkpoint after the config (CONFIG CHECKPOINT)'
        if untrained == [first]
        else 'pass its checkpoint as --compare CONFIG CHECKPOINT'
    )
    raise ValueError(
        f'{", ".join(untrained)} would run {UNTRAINED}: no checkpoint, and its config loads no '
        f'pretrained weights, while {", ".join(k for k in sources if k not in untrained)} is '
        f'trained; that compares training, not architectures. {fix[0].upper()}{fix[1:]}, or '
        'add --allow-untrained to compare with random weights on purpose (then marked '
        f'{UNTRAINED!r} in the printed table, erf.json and erf.png).'
    )


def _stage_outputs(outputs: object) -> list[Tensor]:
    """The forward's outputs as a list of NCHW maps; an error for anything else."""
    maps = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    if not all(isinstance(m, Tensor) and m.dim() == 4 for m in maps):
        shapes = [tuple(m.shape) if isinstance(m, Tensor) else type(m).__name__ for m in maps]
        raise ValueError(
            f'the backbone returned {shapes}; an ERF needs NCHW stage outputs (B, C, H, W). For '
            "an SMT classifier set model.backbone.out_type='featmap'."
        )
    return maps


def effective_receptive_field(backbone: nn.Module, batches: Iterable[Tensor]) -> list[np.ndarray]:
    """Sum the input gradients of the central output pixel of every stage over images.

    The backbone runs in eval mode (restored afterwards); its parameters get no gradient.

    Args:
        backbone (nn.Module): A module whose forward takes ``(B, C, H, W)`` images and returns
            a tuple of NCHW maps (mmdet / mmseg / mmpretrain backbones do).
        batches (Iterable[Tensor]): Preprocessed image batches, all of one size ``(H, W)``.

    Returns:
        list[np.ndarray]: One float64 ``(H, W)`` contribution map per stage output: the sum of
        the images' maps, each scaled to sum 1 (an image whose output does not depend on the
        input adds nothing).

    Raises:
        ValueError: If no batch is given, sizes differ, or the outputs are not NCHW maps.
    """
    sums: list[np.ndarray] = []
    size = None
    was_training = backbone.training
    backbone.eval()
    try:
        for images in batches:
            if size is not None and images.shape[-2:] != size:
                raise ValueError(
                    f'all images need one size, got {tuple(size)} and {tuple(images.shape[-2:])}'
                )
            size = images.shape[-2:]
            inputs = images.detach().requires_grad_(True)
            with torch.enable_grad():
                outputs = _stage_outputs(backbone(inputs))
                for k, out in enumerate(outputs):
                    centre = out[:, :, out.shape[2] // 2, out.shape[3] // 2]
                    (grad,) = torch.autograd.grad(
                        centre.relu().sum(), inputs, retain_graph=k < len(outputs) - 1
                    )
                    per_image = grad.abs().sum(1).double()
                    # every image weighs the same: one image with a large gradient (e.g. an
                    # attention peak on one object) must not make the ERF its own
                    totals = per_image.sum((1, 2), keepdim=True)
                    contribution = (per_image / totals.clamp_min(1e-30)).sum(0).cpu().numpy()
                    if len(sums) <= k:
                        sums.append(contribution)
                    else:
                        sums[k] += contribution
    finally:
        backbone.train(was_training)
    if size is None:
        raise ValueError('no images: the ERF needs at least one image batch')
    return sums


def contribution_areas(erf: np.ndarray, fractions: Sequence[float] = FRACTIONS) -> dict[str, dict]:
    """The fewest pixels of a contribution map that hold each share of its total.

    Args:
        erf (np.ndarray): A non-negative ``(H, W)`` contribution map.
        fractions (Sequence[float]): Shares in (0, 1]. Defaults to :data:`FRACTIONS`.

    Returns:
        dict: ``{'20%': {'pixels': n, 'ratio': n / (H * W)}, ...}``.

    Raises:
        ValueError: If a share is out of range or the map holds no contribution.
    """
    values = np.sort(erf.ravel())[::-1]
    total = values.sum()
    if not total > 0:
        raise ValueError('the contribution map is zero: the output does not depend on the input')
    cumulative = np.cumsum(values) / total
    areas = {}
    for fraction in fractions:
        if not 0 < fraction <= 1:
            raise ValueError(f'shares must be in (0, 1], got {fraction}')
        # a relative tolerance, so that a share reached exactly is not missed by rounding
        pixels = int(np.searchsorted(cumulative, fraction * (1 - 1e-9))) + 1
        areas[f'{fraction * 100:g}%'] = {'pixels': pixels, 'ratio': pixels / erf.size}
    return areas


def measure_erf(
    model: nn.Module,
    image_files: Sequence[str],
    size: tuple[int, int],
    batch_size: int = 4,
    fractions: Sequence[float] = FRACTIONS,
) -> tuple[list[np.ndarray], list[dict]]:
    """The ERF of every stage of a model's backbone over images, and its contribution areas.

    Args:
        model (nn.Module): A model built by :func:`~smt_mm.apis.build_model` (its ``backbone`` is
            measured, or the model itself if it has none). An SMT backbone is switched to
            return every stage as a map (``out_type='featmap'``, all ``out_indices``).
        image_files (Sequence[str]): The images, each resized to ``size`` and normalised by
            the model's data preprocessor.
        size (tuple[int, int]): ``(height, width)`` of the inputs.
        batch_size (int): Images per forward pass. Defaults to 4.
        fractions (Sequence[float]): Shares for :func:`contribution_areas`. Defaults to
            :data:`FRACTIONS`.

    Returns:
        tuple: The contribution map of each stage and its areas.
    """
    from ..visualization.images import prepare_image

    backbone = getattr(model, 'backbone', model)
    if isinstance(backbone, SMT):
        backbone.out_type = 'featmap'
        backbone.out_indices = tuple(range(backbone.num_stages))

    def batches() -> Iterator[Tensor]:
        for start in range(0, len(image_files), batch_size):
            chunk = image_files[start : start + batch_size]
            yield torch.cat([prepare_image(model, path, size)[1] for path in chunk])

    erfs = effective_receptive_field(backbone, batches())
    return erfs, [contribution_areas(erf, fractions) for erf in erfs]
