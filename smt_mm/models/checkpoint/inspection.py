"""Say what a checkpoint file is before loading it, and how its keys fit a config's model.

:func:`inspect_checkpoint` never raises for a bad file: an empty file, a web page, a Git LFS
pointer, random or truncated bytes and a pickle that would run code each get a verdict.
:func:`compare_with_model` lists the keys that would be missing, unexpected or of the wrong shape
after the conversion that loading applies. ``tools/analysis/check_checkpoint.py`` prints both.
"""

import os.path as osp
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import torch

from .convert import (
    checkpoint_meta,
    convert_official_checkpoint,
    convert_official_smt,
    official_model_kind,
    unwrap_state_dict,
)
from .safe_load import (
    InvalidCheckpointError,
    UnsafeCheckpointError,
    check_checkpoint_weights,
    safe_torch_load,
)
from .strict_load import diff_state_dict

#: Top-level keys of the heads of whole mmdet / mmseg / mmpretrain models.
_DET_HEADS = ('rpn_head.', 'roi_head.', 'bbox_head.', 'query_head.', 'decoder.')
_SEG_HEADS = ('decode_head.', 'auxiliary_head.')
_EMA_KEYS = ('ema_state_dict', 'model_ema', 'state_dict_ema', 'ema')


@dataclass
class CheckpointReport:
    """What :func:`inspect_checkpoint` found.

    Attributes:
        path (str): The file.
        kind (str): A short code: ``official-classification``, ``official-detection``,
            ``official-segmentation``, ``official-backbone``, ``smt_mm-mmdet``,
            ``smt_mm-mmseg``, ``smt_mm-mmpretrain``, ``smt_mm-backbone``, ``other-mmdet``,
            ``other-mmseg``, ``other-mmpretrain``, ``other-state-dict``, ``missing``, ``unsafe``
            or an :class:`~smt_mm.models.checkpoint.InvalidCheckpointError` kind (``empty``,
            ``html``, ``lfs-pointer``, ``safetensors``, ``not-a-checkpoint``, ``damaged``,
            ``no-weights``, ``non-finite``).
        verdict (str): One sentence for people.
        details (dict[str, str]): ``arch``, ``head``, ``layer scale``, ``EMA``,
            ``optimizer state``, ``conversion`` ... where they apply.
        checkpoint (dict | None): The loaded checkpoint, converted as loading converts it.
    """

    path: str
    kind: str
    verdict: str
    details: dict[str, str] = field(default_factory=dict)
    checkpoint: dict | None = None

    @property
    def is_checkpoint(self) -> bool:
        """Whether the file loaded as a checkpoint dict."""
        return self.checkpoint is not None

    def format(self) -> str:
        """The report as lines of text."""
        lines = [f'{self.path}: {self.verdict}']
        lines += [f'  {name}: {value}' for name, value in self.details.items()]
        return '\n'.join(lines)


def _is_smt_backbone(keys: list[str], prefix: str = '') -> bool:
    """smt_mm's SMT layout; the stem's ``conv1`` tells it from Swin's ``stages.*``."""
    return f'{prefix}patch_embeds.0.conv1.weight' in keys


def _is_official_backbone(keys: list[str], prefix: str = '') -> bool:
    return f'{prefix}patch_embed1.conv.0.weight' in keys


def describe_arch(backbone: Mapping[str, torch.Tensor]) -> str:
    """Name the SMT arch of an smt_mm-layout backbone state dict.

    Args:
        backbone (Mapping[str, torch.Tensor]): Keys of :class:`~smt_mm.models.backbones.SMT`.

    Returns:
        str: e.g. ``'small (embed_dims (64, 128, 256, 512), depths (3, 4, 18, 2))'``, or
        ``'custom (...)'`` when no named arch has these sizes.
    """
    from ..backbones import SMT

    dims = tuple(int(backbone[f'norms.{i}.weight'].shape[0]) for i in range(4))
    depths = tuple(
        1
        + max((int(k.split('.')[2]) for k in backbone if k.startswith(f'stages.{i}.')), default=-1)
        for i in range(4)
    )
    ratios = tuple(
        int(backbone[f'stages.{i}.0.ffn.fc1.weight'].shape[0]) // dims[i]
        if f'stages.{i}.0.ffn.fc1.weight' in backbone
        else 0
        for i in range(4)
    )
    head_conv = int(backbone['patch_embeds.0.conv1.weight'].shape[-1])
    found = (dims, depths, ratios, head_conv)
    sizes = f'embed_dims {dims}, depths {depths}, mlp_ratios {ratios}, stem kernel {head_conv}'
    for name, arch in SMT.arch_zoo.items():
        settings = (
            tuple(arch['embed_dims']),
            tuple(arch['depths']),
            tuple(arch['mlp_ratios']),
            arch['head_conv'],
        )
        if len(name) > 1 and settings == found:
            return f'{name} ({sizes})'
    return f'custom ({sizes})'


def _ema(checkpoint: Mapping, keys: list[str]) -> str:
    found = [k for k in _EMA_KEYS if k in checkpoint]
    if found:
        return f'yes ({found[0]!r})'
    if any(k.startswith('ema_') for k in keys):
        return "yes (mmcv EMAHook 'ema_*' buffers in the state dict)"
    return 'no'


def _training_state(checkpoint: Mapping) -> str:
    if 'optimizer' not in checkpoint:
        return 'no (weights only)'
    meta = checkpoint_meta(checkpoint)
    where = ', '.join(f'{k} {meta[k]}' for k in ('epoch', 'iter') if k in meta)
    if 'epoch' in checkpoint and not where:
        where = f'epoch {checkpoint["epoch"]}'
    return 'yes' + (f' (saved at {where})' if where else '')


def _toolbox(keys: list[str], meta: Mapping) -> str:
    for name in ('mmdet', 'mmseg', 'mmpretrain', 'mmcls'):
        if f'{name}_version' in meta:
            return 'mmpretrain' if name == 'mmcls' else name
    if any(k.startswith(_DET_HEADS) for k in keys):
        return 'mmdet'
    if any(k.startswith(_SEG_HEADS) for k in keys):
        return 'mmseg'
    if any(k.startswith(('head.', 'neck.')) for k in keys):
        return 'mmpretrain'
    return ''


#: The top-level modules of the SMT backbone, official and smt_mm, outside whole models.
_BACKBONE_MODULES = re.compile(r'^(backbone|patch_embeds?\d*|stages|block\d|norms?\d*)$')


def _heads(keys: list[str]) -> str:
    heads = sorted({k.split('.')[0] for k in keys} - {'backbone'})
    heads = [h for h in heads if not _BACKBONE_MODULES.match(h)]
    return ', '.join(heads) if heads else 'none (backbone only)'


def _num_classes(state_dict: Mapping[str, torch.Tensor]) -> str:
    for key, offset in (
        ('roi_head.bbox_head.fc_cls.weight', 1),
        ('roi_head.bbox_head.0.fc_cls.weight', 1),
        ('decode_head.conv_seg.weight', 0),
        ('head.fc.weight', 0),
        ('head.weight', 0),
    ):
        if key in state_dict:
            return f', {int(state_dict[key].shape[0]) - offset} classes ({key})'
    return ''


def _load(path: str) -> CheckpointReport | dict:
    """The loaded checkpoint, or a report saying why it is none."""
    if not osp.isfile(path):
        return CheckpointReport(path, 'missing', 'no such file')
    try:
        checkpoint = safe_torch_load(path)
        if isinstance(checkpoint, Mapping) and checkpoint:
            check_checkpoint_weights(checkpoint, path)
    except InvalidCheckpointError as err:
        verdict = str(err).split(f'{path}: ', 1)[-1].removeprefix('it ')
        return CheckpointReport(path, err.kind, verdict)
    except UnsafeCheckpointError as err:
        return CheckpointReport(path, 'unsafe', f'unsafe, not loaded: {err}')
    except (pickle.UnpicklingError, OSError, RuntimeError) as err:
        return CheckpointReport(path, 'damaged', f'cannot be read: {type(err).__name__}: {err}')
    if not isinstance(checkpoint, Mapping) or not checkpoint:
        what = type(checkpoint).__name__
        return CheckpointReport(path, 'not-a-checkpoint', f'holds a {what}, not a checkpoint dict')
    return dict(checkpoint)


def inspect_checkpoint(path: str) -> CheckpointReport:
    """Say what a file is: official or smt_mm SMT checkpoint, another model's, or no checkpoint.

    The checkpoint is loaded with :func:`~smt_mm.models.checkpoint.safe_torch_load` (nothing
    in it runs) and converted as loading converts it (official whole models), so that
    :func:`compare_with_model` sees the keys the model would get.

    Args:
        path (str): The file.

    Returns:
        CheckpointReport: The verdict and details; never raises for a bad file.
    """
    loaded = _load(path)
    if isinstance(loaded, CheckpointReport):
        return loaded
    checkpoint = loaded
    details: dict[str, str] = {}
    original_keys = [str(k) for k in unwrap_state_dict(checkpoint)]
    meta = checkpoint_meta(checkpoint)
    official_kind = official_model_kind(checkpoint)
    if official_kind is not None:
        checkpoint, note = convert_official_checkpoint(checkpoint)
        details['conversion'] = str(note)
    state_dict = unwrap_state_dict(checkpoint)
    keys = [str(k) for k in state_dict]
    toolbox = _toolbox(keys, meta)
    backbone: Mapping[str, torch.Tensor] | None = None
    if official_kind is not None:
        task = {'detector': 'detection', 'segmentor': 'segmentation'}.get(official_kind, 'model')
        kind = f'official-{task}'
        saved_by = ' '.join(
            f'{t} {meta[f"{t}_version"]}' for t in (toolbox,) if f'{t}_version' in meta
        )
        verdict = (
            f'official SMT {task} checkpoint (github AFeng-x/SMT, saved by '
            f'{saved_by or "mmdet 2.x / mmseg 0.x"}); converted to smt_mm keys when loaded'
        )
    elif _is_official_backbone(keys):
        backbone = convert_official_smt(state_dict)
        if 'head.weight' in keys:
            kind = 'official-classification'
            verdict = 'official SMT ImageNet classification checkpoint (github AFeng-x/SMT)'
        else:
            kind = 'official-backbone'
            verdict = 'official SMT backbone weights (no classification head)'
        verdict += '; converted to smt_mm keys when loaded'
    elif _is_smt_backbone(keys, 'backbone.'):
        kind = f'smt_mm-{toolbox or "model"}'
        verdict = f'smt_mm {toolbox or "whole-model"} checkpoint with an SMT backbone'
    elif _is_smt_backbone(keys):
        kind = 'smt_mm-backbone'
        verdict = (
            'smt_mm SMT backbone weights (e.g. written by tools/model_converters/smt_to_mm.py)'
        )
    elif any(k.startswith('backbone.') for k in keys):
        kind = f'other-{toolbox or "model"}'
        example = next(k for k in keys if k.startswith('backbone.'))
        verdict = (
            f'{toolbox or "OpenMMLab"} checkpoint of another backbone, not SMT (e.g. {example})'
        )
    else:
        kind = 'other-state-dict'
        verdict = f'not an SMT checkpoint: {len(keys)} entries such as {keys[:3]}'
    if backbone is None and _is_smt_backbone(keys, 'backbone.'):
        backbone = {k[9:]: v for k, v in state_dict.items() if k.startswith('backbone.')}
    elif backbone is None and _is_smt_backbone(keys):
        backbone = state_dict
    if backbone is not None:
        details['arch'] = describe_arch(backbone)
        details['layer scale'] = 'yes' if any('.gamma1' in k for k in backbone) else 'no'
    if 'dw_conv' in ' '.join(original_keys):
        details['MSA conv'] = 'attn.dw_conv (official dense naming) -> attn.local_conv'
    if kind != 'other-state-dict':
        details['heads'] = _heads(keys) + _num_classes(state_dict)
    details['EMA'] = _ema(checkpoint, keys)
    details['optimizer state'] = _training_state(checkpoint)
    return CheckpointReport(path, kind, verdict, details, checkpoint)


def compare_with_model(report: CheckpointReport, model: torch.nn.Module) -> dict[str, list[str]]:
    """List how the keys of an inspected checkpoint fit a model, after conversion.

    A whole-model checkpoint is compared with the whole model (as ``load_from`` and
    ``tools/test.py`` load it). Backbone weights (official or converted ImageNet files) are
    compared with ``model.backbone`` (as ``init_cfg=dict(type='Pretrained', ...)`` loads them),
    or, for an official classification file and a classifier with a ``head``, with the whole
    classifier including its head.

    Args:
        report (CheckpointReport): From :func:`inspect_checkpoint`, for a loadable file.
        model (torch.nn.Module): The model a config builds.

    Returns:
        dict[str, list[str]]: ``target`` (one line saying what was compared), ``missing``,
        ``unexpected`` and ``shape mismatch``.

    Raises:
        ValueError: If the report is not of a loaded checkpoint.
    """
    if report.checkpoint is None:
        raise ValueError(f'{report.path} is not a checkpoint: {report.verdict}')
    state_dict = {
        k.removeprefix('module.'): v for k, v in unwrap_state_dict(report.checkpoint).items()
    }
    target, expected = 'the whole model (load_from)', model.state_dict()
    if report.kind in ('official-classification', 'official-backbone', 'smt_mm-backbone'):
        if report.kind == 'official-classification' and hasattr(model, 'head'):
            state_dict = convert_official_smt(state_dict, keep_head=True)
        elif hasattr(model, 'backbone'):
            target = 'model.backbone (init_cfg Pretrained)'
            expected = cast(torch.nn.Module, model.backbone).state_dict()
            state_dict = convert_official_smt(state_dict)
        else:
            state_dict = convert_official_smt(state_dict)
    missing, unexpected, mismatched = diff_state_dict(expected, state_dict)
    return {
        'target': [target],
        'missing': missing,
        'unexpected': unexpected,
        'shape mismatch': mismatched,
    }
