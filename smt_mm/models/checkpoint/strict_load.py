"""Load weights into a model strictly: every key and shape must fit, or the error lists them.

:func:`check_state_dict` is the one strict check of smt_mm: the SMT backbone's ``Pretrained``
loading (:func:`load_backbone_checkpoint`), whole models (:func:`load_model_checkpoint`) and
:class:`~smt_mm.engine.SMTCheckpointHook` (``load_from`` / resume) all go through it.
"""

import os.path as osp
import re
from collections.abc import Mapping

import torch
from mmengine.runner import CheckpointLoader

from .convert import convert_official_smt, unwrap_state_dict

# mmengine strips this from checkpoint keys before loading them into the model.
_MODULE_PREFIX = re.compile(r'^module\.')
_URL_PREFIXES = ('http://', 'https://', 's3://', 'open-mmlab://')

#: What :func:`check_state_dict` suggests for a whole-model checkpoint (``load_from``).
WHOLE_MODEL_FIX = (
    'To start only the backbone from a checkpoint, use model.backbone.init_cfg=dict(type='
    "'Pretrained', checkpoint=PATH, prefix='backbone.') instead of load_from; to load "
    'the matching part on purpose, test with tools/test.py --non-strict.'
)


class CheckpointMismatchError(KeyError):
    """Raised when a checkpoint's keys or shapes do not fit the model (the message lists them)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def diff_state_dict(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[str]]:
    """The keys of a state dict that a model would miss, not expect, or get in the wrong shape.

    Args:
        expected (Mapping[str, torch.Tensor]): The model's state dict.
        given (Mapping[str, torch.Tensor]): The checkpoint's.

    Returns:
        tuple[list[str], list[str], list[str]]: Missing keys, unexpected keys, and
        ``'key: checkpoint (shape), model (shape)'`` lines.
    """
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    mismatched = [
        f'{k}: checkpoint {tuple(given[k].shape)}, model {tuple(v.shape)}'
        for k, v in expected.items()
        if k in given and tuple(given[k].shape) != tuple(v.shape)
    ]
    return missing, unexpected, mismatched


def _listing(keys: list[str], limit: int = 20) -> str:
    """The first ``limit`` keys, and how many more."""
    return str(keys[:limit]) + (f' ... and {len(keys) - limit} more' if len(keys) > limit else '')


def check_state_dict(
    model: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str = 'The checkpoint',
    fix: str = WHOLE_MODEL_FIX,
) -> None:
    """Check that a state dict fits a model exactly (keys and shapes).

    Args:
        model (torch.nn.Module): The model.
        state_dict (Mapping[str, torch.Tensor]): The state dict; keys may carry DDP's
            ``module.`` prefix.
        source (str): How the message names the checkpoint. Defaults to ``'The checkpoint'``.
        fix (str): The advice that follows the counts. Defaults to :data:`WHOLE_MODEL_FIX`.

    Raises:
        CheckpointMismatchError: A ``KeyError`` raised if keys are missing or unexpected, or
            shapes differ; the message lists them.
    """
    given = {_MODULE_PREFIX.sub('', k): v for k, v in state_dict.items()}
    missing, unexpected, mismatched = diff_state_dict(model.state_dict(), given)
    if missing or unexpected or mismatched:
        raise CheckpointMismatchError(
            f'{source} does not fit the model: {len(missing)} missing, '
            f'{len(unexpected)} unexpected keys, {len(mismatched)} shape mismatches.'
            f'{" " + fix if fix else ""}\n'
            f'missing keys: {_listing(missing)}\nunexpected keys: {_listing(unexpected)}\n'
            f'shape mismatches: {_listing(mismatched)}'
        )


def _require_file(checkpoint: str, what: str, fix: str) -> None:
    """Raise for a local checkpoint path that does not exist (URLs are left to mmengine)."""
    if not checkpoint.startswith(_URL_PREFIXES) and not osp.isfile(osp.expanduser(checkpoint)):
        raise FileNotFoundError(f'{what} not found: {checkpoint}. {fix}')


def load_backbone_checkpoint(
    backbone: torch.nn.Module, checkpoint: str, prefix: str | None = None
) -> None:
    """Load an official or converted SMT checkpoint into an SMT backbone, strictly.

    This is what ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)`` of
    :class:`~smt_mm.models.backbones.SMT` runs. Official files are converted with
    :func:`~smt_mm.models.checkpoint.convert_official_smt`.

    Args:
        backbone (torch.nn.Module): The SMT backbone.
        checkpoint (str): Path or URL of the checkpoint.
        prefix (str, optional): Keep only the keys under this prefix and strip it, e.g.
            ``'backbone.'`` for an mmdet / mmseg / mmpretrain checkpoint. Defaults to None.

    Raises:
        FileNotFoundError: If a local checkpoint does not exist.
        KeyError: If no key has ``prefix``; :class:`CheckpointMismatchError` (a ``KeyError``)
            if keys are missing or unexpected or shapes differ; the message lists them.
    """
    _require_file(
        checkpoint,
        'SMT pretrained checkpoint',
        'Download it (official release files load as they are) or point the config key '
        '`model.backbone.init_cfg.checkpoint` at an existing file, e.g. '
        '`--cfg-options model.backbone.init_cfg.checkpoint=PATH`.',
    )
    state_dict = unwrap_state_dict(CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu'))
    if prefix:
        selected = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if not selected:
            raise KeyError(
                f'No key of {checkpoint} starts with the prefix {prefix!r}; first keys: '
                f'{list(state_dict)[:5]}.'
            )
        state_dict = selected
    whole_model = not prefix and any(k.startswith('backbone.') for k in state_dict)
    state_dict = convert_official_smt(state_dict)
    fix = "The checkpoint holds a whole model: set prefix='backbone.'." if whole_model else ''
    check_state_dict(backbone, state_dict, f'SMT checkpoint {checkpoint}', fix)
    backbone.load_state_dict(state_dict)


def model_state_dict(checkpoint: Mapping) -> Mapping[str, torch.Tensor]:
    """The whole-model state dict of a loaded checkpoint.

    Args:
        checkpoint (Mapping): A checkpoint written by mmengine (its ``'state_dict'``) or an
            official SMT classification file (``smt_tiny.pth`` ...), which is converted to the
            layout of an mmpretrain ``ImageClassifier`` (``backbone.*``, ``head.fc.*``).

    Returns:
        Mapping[str, torch.Tensor]: The state dict.

    Raises:
        ValueError: If a checkpoint without ``'state_dict'`` is not an SMT state dict.
    """
    if 'state_dict' in checkpoint:
        return checkpoint['state_dict']
    return convert_official_smt(checkpoint, keep_head=True)


def load_model_checkpoint(model: torch.nn.Module, checkpoint: str) -> None:
    """Load a checkpoint into a whole model (detector, segmentor, classifier), strictly.

    Args:
        model (torch.nn.Module): The model a config builds.
        checkpoint (str): Path or URL of a checkpoint written by mmengine (whole model; official
            SMT detectors and segmentors are converted by the loader that ``import smt_mm``
            installs) or an official SMT classification file (converted to an mmpretrain
            ``ImageClassifier``, as :class:`~smt_mm.engine.SMTCheckpointHook` does).

    Raises:
        FileNotFoundError: If a local checkpoint does not exist.
        CheckpointMismatchError: If the checkpoint's keys or shapes do not fit the model.
    """
    _require_file(checkpoint, 'checkpoint', 'Check the path, or download the file again.')
    state_dict = model_state_dict(CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu'))
    check_state_dict(model, state_dict)
    model.load_state_dict({_MODULE_PREFIX.sub('', k): v for k, v in state_dict.items()})
