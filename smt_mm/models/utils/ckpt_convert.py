"""Conversion of official SMT checkpoints to the keys of :class:`smt_mm.models.backbones.SMT`."""

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

_OFFICIAL_PREFIXES = ('patch_embed1.', 'block1.', 'norm1.')
_CONVERTED_PREFIXES = ('patch_embeds.', 'stages.', 'norms.')
_BACKBONE_PREFIX = 'backbone.'


def _convert_key(key: str) -> str:
    """Map one official key; unknown keys pass unchanged so that strict loading names them."""
    for pattern, replace in _RULES:
        match = pattern.match(key)
        if match:
            return replace(match) + key[match.end() :]
    return key


def _unwrap(checkpoint: Mapping) -> Mapping:
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
    state_dict = _unwrap(state_dict)
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
