"""Conversion of official SMT checkpoints to the keys of :class:`smt_mm.models.backbones.SMT`.

Two official formats exist besides smt_mm's own:

* the ImageNet classification files (``smt_tiny.pth`` ...): backbone keys ``patch_embed1.*``,
  ``block1.*``, ``norm1.*`` and the classifier ``head.*``, under ``'model'``;
  :func:`convert_official_smt` handles them;
* whole detectors and segmentors trained with the official mmdet 2.x / mmseg 0.x code: the same
  backbone keys under ``backbone.``, except that the MSA branch's 3x3 depthwise convolution is
  named ``attn.dw_conv`` (``attn.local_conv`` in the classification files), next to the neck and
  heads; :func:`convert_official_checkpoint` handles them.
"""

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping

import torch


def _stage(index: str) -> int:
    """Official stage and head numbers count from 1, ours from 0."""
    return int(index) - 1


#: Official key patterns and the functions that give their replacement, tried in order.
_RULES: list[tuple[re.Pattern, Callable[[re.Match], str]]] = [
    (re.compile(r'^patch_embed1\.conv\.0\.'), lambda m: 'patch_embeds.0.conv1.'),
    (re.compile(r'^patch_embed1\.conv\.1\.'), lambda m: 'patch_embeds.0.bn.'),
    (re.compile(r'^patch_embed1\.conv\.3\.'), lambda m: 'patch_embeds.0.conv2.'),
    (re.compile(r'^patch_embed1\.norm\.'), lambda m: 'patch_embeds.0.norm.'),
    (
        re.compile(r'^patch_embed([2-4])\.(proj|norm)\.'),
        lambda m: f'patch_embeds.{_stage(m[1])}.{m[2]}.',
    ),
    (
        re.compile(r'^block([1-4])\.(\d+)\.attn\.local_conv_([1-9])\.'),
        lambda m: f'stages.{_stage(m[1])}.{m[2]}.attn.local_convs.{_stage(m[3])}.',
    ),
    (
        re.compile(r'^block([1-4])\.(\d+)\.attn\.dw_conv\.'),
        lambda m: f'stages.{_stage(m[1])}.{m[2]}.attn.local_conv.',
    ),
    (
        re.compile(r'^block([1-4])\.(\d+)\.mlp\.dwconv\.dwconv\.'),
        lambda m: f'stages.{_stage(m[1])}.{m[2]}.ffn.dwconv.',
    ),
    (re.compile(r'^block([1-4])\.(\d+)\.mlp\.'), lambda m: f'stages.{_stage(m[1])}.{m[2]}.ffn.'),
    (
        re.compile(r'^block([1-4])\.(\d+)\.gamma_([12])$'),
        lambda m: f'stages.{_stage(m[1])}.{m[2]}.gamma{m[3]}',
    ),
    (re.compile(r'^block([1-4])\.(\d+)\.'), lambda m: f'stages.{_stage(m[1])}.{m[2]}.'),
    (re.compile(r'^norm([1-4])\.'), lambda m: f'norms.{_stage(m[1])}.'),
]

# SMT's own names: ``norm1.`` alone is not one (mmdet's Swin has ``norm1`` .. ``norm3`` too).
_OFFICIAL_PREFIXES = ('patch_embed1.', 'block1.')
_CONVERTED_PREFIXES = ('patch_embeds.', 'stages.', 'norms.')
_BACKBONE_PREFIX = 'backbone.'


def _convert_key(key: str) -> str:
    """Map one official key; unknown keys pass unchanged so that strict loading names them."""
    for pattern, replace in _RULES:
        match = pattern.match(key)
        if match:
            return replace(match) + key[match.end() :]
    return key


def unwrap_state_dict(checkpoint: Mapping) -> Mapping:
    """The state dict under ``'state_dict'`` (mmengine, mmcv), ``'model'`` or at the top."""
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), Mapping):
            return checkpoint[wrapper]
    return checkpoint


def _is_official(keys: list[str]) -> bool:
    return any(k.startswith(_OFFICIAL_PREFIXES) for k in keys)


def _is_converted(keys: list[str]) -> bool:
    return any(k.removeprefix(_BACKBONE_PREFIX).startswith(_CONVERTED_PREFIXES) for k in keys)


def convert_official_smt(
    state_dict: Mapping[str, torch.Tensor], keep_head: bool = False
) -> 'OrderedDict[str, torch.Tensor]':
    """Convert an official SMT state dict to the keys of :class:`smt_mm.models.backbones.SMT`.

    Official checkpoints (``patch_embed1.conv.0.weight``, ``block3.1.attn.kv.weight``,
    ``block4.0.gamma_1``, ``norm4.weight``, ``head.weight`` ...) are mapped to
    ``patch_embeds.0.conv1.weight``, ``stages.2.1.attn.kv.weight``, ``stages.3.0.gamma1``,
    ``norms.3.weight``. A dict that is already in this layout (with or without the
    ``backbone.`` prefix of a whole model) is recognised and only brought to the requested
    layout, so converting twice gives the same result. Tensors are shared, not copied.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The state dict, possibly wrapped in a
            checkpoint dict under ``'state_dict'`` or ``'model'`` (official release files), and
            possibly with DDP's ``module.`` prefix.
        keep_head (bool): Keep the classification head. The result is then the layout of an
            mmpretrain ``ImageClassifier`` (``backbone.*``, ``head.fc.weight``,
            ``head.fc.bias``); otherwise the head is dropped and the keys are the backbone's
            own. Defaults to False.

    Returns:
        OrderedDict[str, torch.Tensor]: The converted state dict.

    Raises:
        ValueError: If the dict is neither an official nor a converted SMT state dict.
    """
    state_dict = unwrap_state_dict(state_dict)
    keys = list(state_dict)
    if keys and all(k.startswith('module.') for k in keys):
        state_dict = {k.removeprefix('module.'): v for k, v in state_dict.items()}
        keys = list(state_dict)
    if _is_converted(keys):
        backbone = OrderedDict(
            (k.removeprefix(_BACKBONE_PREFIX), v)
            for k, v in state_dict.items()
            if not k.startswith('head.')
        )
        head = OrderedDict(
            (k.removeprefix('head.'), v) for k, v in state_dict.items() if k.startswith('head.')
        )
        head = OrderedDict((k.removeprefix('fc.'), v) for k, v in head.items())
    elif _is_official(keys):
        backbone = OrderedDict(
            (_convert_key(k), v) for k, v in state_dict.items() if not k.startswith('head.')
        )
        head = OrderedDict(
            (k.removeprefix('head.'), v) for k, v in state_dict.items() if k.startswith('head.')
        )
    else:
        raise ValueError(
            'Not an SMT state dict: expected official keys (patch_embed1.*, block1.*, ...) or '
            f'converted ones (patch_embeds.*, stages.*, norms.*); got e.g. {keys[:5]}.'
        )
    if not keep_head:
        return backbone
    converted = OrderedDict((_BACKBONE_PREFIX + k, v) for k, v in backbone.items())
    converted.update((f'head.fc.{k}', v) for k, v in head.items())
    return converted


#: The backbone keys of a whole official detector or segmentor.
_OFFICIAL_MODEL_PREFIXES = tuple(_BACKBONE_PREFIX + p for p in _OFFICIAL_PREFIXES)


def checkpoint_meta(checkpoint: Mapping) -> Mapping:
    """The ``meta`` dict of a checkpoint; empty when it has none."""
    meta = checkpoint.get('meta')
    return meta if isinstance(meta, Mapping) else {}


def official_model_kind(checkpoint: Mapping) -> str | None:
    """Say which official whole-model format a checkpoint is in, if any.

    Args:
        checkpoint (Mapping): A loaded checkpoint (a state dict possibly under
            ``'state_dict'`` or ``'model'``).

    Returns:
        str | None: ``'detector'`` (official mmdet 2.x code), ``'segmentor'`` (official
        mmseg 0.x code), ``'model'`` (``backbone.*`` official keys beside other heads) or None
        when the backbone keys are not in the official layout.
    """
    state_dict = unwrap_state_dict(checkpoint)
    if not any(str(k).startswith(_OFFICIAL_MODEL_PREFIXES) for k in state_dict):
        return None
    meta = checkpoint_meta(checkpoint)
    if 'mmdet_version' in meta or any(str(k).startswith('roi_head.') for k in state_dict):
        return 'detector'
    if 'mmseg_version' in meta or any(str(k).startswith('decode_head.') for k in state_dict):
        return 'segmentor'
    return 'model'


def convert_official_checkpoint(checkpoint: Mapping) -> tuple[dict, str | None]:
    """Convert a whole official SMT detector or segmentor checkpoint to smt_mm's layout.

    The official detection (mmdet 2.x) and segmentation (mmseg 0.x) code saves
    ``{'meta': {...}, 'state_dict': {...}, 'optimizer': {...}}`` with the backbone under
    ``backbone.`` in the official key layout. The backbone keys go through
    :func:`convert_official_smt` (``backbone.block3.1.attn.dw_conv.weight`` ->
    ``backbone.stages.2.1.attn.local_conv.weight``, ...). The neck and head keys stay as they
    are: mmdet 3.x and mmseg 1.x kept the parameter names of FPN, RPNHead, the (cascade) RoI
    heads, FCNMaskHead, UPerHead and FCNHead, and their own model zoos serve the mmdet 2.x and
    mmseg 0.x files unchanged. The class names of the old ``meta`` (``CLASSES``, ``PALETTE``)
    are also written as mmengine's ``meta['dataset_meta']``. Anything else in the checkpoint
    is kept. A checkpoint that is not in this format (smt_mm's own, another backbone's, a
    converted one) is returned as it is, so converting twice changes nothing.

    Args:
        checkpoint (Mapping): The loaded checkpoint.

    Returns:
        tuple[dict, str | None]: The converted checkpoint (a new dict; tensors are shared)
        and a one-line account of what was converted, or the checkpoint itself and None.
    """
    kind = official_model_kind(checkpoint)
    if kind is None:
        return dict(checkpoint), None
    wrapper = next(w for w in ('state_dict', 'model', None) if w is None or w in checkpoint)
    state_dict = unwrap_state_dict(checkpoint)
    converted: OrderedDict[str, torch.Tensor] = OrderedDict()
    renamed = dw_conv = 0
    for key, value in state_dict.items():
        new_key = key
        if key.startswith(_BACKBONE_PREFIX):
            new_key = _BACKBONE_PREFIX + _convert_key(key.removeprefix(_BACKBONE_PREFIX))
            renamed += new_key != key
            dw_conv += '.attn.dw_conv.' in key
        converted[new_key] = value
    result = dict(checkpoint) if wrapper else {}
    result['state_dict' if wrapper is None else wrapper] = converted
    notes = [
        f'{renamed} backbone keys renamed ({dw_conv} of them attn.dw_conv -> attn.local_conv)',
        f'{len(converted) - renamed} neck/head keys kept',
    ]
    meta = result.get('meta')
    if isinstance(meta, Mapping) and 'CLASSES' in meta and 'dataset_meta' not in meta:
        dataset_meta = {'classes': meta['CLASSES']}
        if meta.get('PALETTE') is not None:
            dataset_meta['palette'] = meta['PALETTE']
        result['meta'] = dict(meta, dataset_meta=dataset_meta)
        notes.append("meta CLASSES -> meta['dataset_meta']")
    return result, f'converted an official SMT {kind} checkpoint: ' + ', '.join(notes)
