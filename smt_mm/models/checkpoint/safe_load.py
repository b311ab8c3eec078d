"""Safe (``weights_only``) checkpoint loading for mmengine on every supported torch.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch 2.6 that means
``weights_only=True``, and resuming a run fails because mmengine's own checkpoints pickle a
few of its classes (mmengine issue #1655: ``HistoryBuffer was not an allowed global``); before
2.6 it means unrestricted unpickling, which runs whatever code a file carries.

:func:`register_safe_loader` replaces mmengine's loader for local paths (the ``''`` scheme of
:class:`mmengine.runner.CheckpointLoader`) by one that keeps ``weights_only=True`` and
allow-lists exactly the globals that mmengine writes into its checkpoints, on every torch
(:func:`smt_mm.utils.compat.load_weights_only` picks the mechanism). A file that pickles
anything else is refused with :class:`UnsafeCheckpointError`, unless the user marks that file
as trusted with :func:`trust_checkpoint` or the ``SMT_MM_TRUSTED_CHECKPOINTS`` variable. A file
that is no checkpoint at all (empty, a web page saved by a failed download, a Git LFS pointer)
or a damaged one (truncated) is refused with :class:`InvalidCheckpointError`, which says what
the file is and how to fix it. Whole detectors and segmentors trained with the official SMT code
are converted to smt_mm's layout as they are loaded.
"""

import importlib
import os
import os.path as osp
import pickle
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import CheckpointLoader

from ...utils.compat import load_weights_only
from .convert import convert_official_checkpoint, unwrap_state_dict

TRUST_ENV = 'SMT_MM_TRUSTED_CHECKPOINTS'

_trusted_files: set[str] = set()


def _numpy_globals() -> list:
    """Numpy objects that mmengine's ``MessageHub`` stores (scalars and arrays of losses)."""
    multiarray = importlib.import_module(
        'numpy._core.multiarray'
        if int(np.__version__.split('.')[0]) >= 2
        else 'numpy.core.multiarray'
    )
    dtype_classes = [type(np.dtype(name)) for name in np.sctypeDict.values()]
    return [
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dict.fromkeys(dtype_classes),
    ]


#: The globals that mmengine 0.10's own checkpoints contain, besides tensors and builtins.
#: ``getattr`` is there because a ``HistoryBuffer`` pickles its statistics methods as
#: ``getattr(HistoryBuffer, 'min')``; the weights-only unpickler still refuses to *call*
#: anything outside this list, so what ``getattr`` returns can only be stored, never run.
MMENGINE_SAFE_GLOBALS: list = [HistoryBuffer, getattr, *_numpy_globals()]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """Raised when a checkpoint pickles a global that is not on the allow-list."""


def trust_checkpoint(path: str) -> None:
    """Allow full (unsafe) unpickling of one checkpoint file that the user trusts.

    Args:
        path (str): The checkpoint file. Only this exact file is trusted.
    """
    _trusted_files.add(osp.realpath(path))


def _is_trusted(path: str) -> bool:
    from_env = [p for p in os.environ.get(TRUST_ENV, '').split(os.pathsep) if p]
    trusted = _trusted_files | {osp.realpath(p) for p in from_env}
    return osp.realpath(path) in trusted


class InvalidCheckpointError(RuntimeError):
    """Raised when a file is not a PyTorch checkpoint, or a damaged one.

    Attributes:
        path (str): The file.
        kind (str): What the file is: ``'empty'``, ``'html'`` (a web page, e.g. a failed
            download), ``'lfs-pointer'`` (a Git LFS pointer), ``'safetensors'``,
            ``'not-a-checkpoint'`` (other bytes), ``'damaged'`` (a truncated or corrupted
            checkpoint), ``'no-weights'`` (a checkpoint without model weights, e.g. an
            optimizer state) or ``'non-finite'`` (weights with NaN or infinite values).
    """

    def __init__(self, path: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.kind = kind


#: The first bytes of the two formats ``torch.save`` writes: a zip archive (torch >= 1.6) and
#: the legacy pickle stream (protocol 2+ starts with 0x80).
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_MAGIC = b'\x80'
_REDOWNLOAD = 'download it again (check the URL, and that the download finished) or re-save it'


def _describe_bytes(head: bytes) -> tuple[str, str] | None:
    """Classify a file by its first bytes; None when it may be a torch checkpoint."""
    if not head:
        return 'empty', f'is empty (0 bytes): the download or save wrote nothing; {_REDOWNLOAD}'
    if head.startswith((_ZIP_MAGIC, _PICKLE_MAGIC)):
        return None
    text = head.lstrip().lower()
    if text.startswith(b'version https://git-lfs'):
        return 'lfs-pointer', (
            'is a Git LFS pointer (a small text file standing for the real checkpoint), not '
            'the checkpoint: fetch the file with `git lfs pull` (or download the release file)'
        )
    if text.startswith((b'<!doctype html', b'<html', b'<?xml', b'<head', b'<')):
        return 'html', (
            'is a web page (HTML/XML), not a checkpoint: usually a failed download (an error, '
            f'login or redirect page saved under the checkpoint name); {_REDOWNLOAD}'
        )
    header_len = int.from_bytes(head[:8], 'little')
    if len(head) > 8 and head[8:9] == b'{' and 0 < header_len < 100_000_000:
        return 'safetensors', (
            'is a safetensors file, not a torch.save checkpoint: load it with '
            '`safetensors.torch.load_file` and save the state dict with `torch.save`'
        )
    return 'not-a-checkpoint', (
        f'is not a PyTorch checkpoint (it starts with {head[:16]!r}, neither a zip archive nor '
        f'a pickle); check that the path names the checkpoint, or {_REDOWNLOAD}'
    )


def check_checkpoint_file(path: str) -> None:
    """Refuse a file that cannot be a PyTorch checkpoint, saying what it is.

    Looks only at the first bytes; a damaged checkpoint is found when it is loaded.

    Args:
        path (str): An existing local file.

    Raises:
        InvalidCheckpointError: If the file is empty, a web page, a Git LFS pointer, a
            safetensors file or other bytes that ``torch.save`` does not write.
    """
    with open(path, 'rb') as f:
        head = f.read(256)
    found = _describe_bytes(head)
    if found is not None:
        kind, what = found
        raise InvalidCheckpointError(path, kind, f'Cannot load checkpoint {path}: it {what}.')


#: How a refused global is reported: torch >= 2.5 and smt_mm's own unpickler
#: (``GLOBAL x was not an allowed global``), torch 2.1-2.4 (``Unsupported class x``).
_REFUSED_GLOBAL = re.compile(
    r'GLOBAL (\S+) (?:was not an allowed global|whose module)|Unsupported class (\S+)'
)


def _is_refused_global(err: pickle.UnpicklingError) -> str | None:
    """The global that the weights-only unpickler refused, if that is why it failed."""
    found = _REFUSED_GLOBAL.search(str(err))
    return None if found is None else found.group(1) or found.group(2)


def safe_torch_load(path: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint with ``weights_only=True`` and mmengine's classes allow-listed.

    Args:
        path (str): A local checkpoint file.
        map_location (Any): Passed to :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: The unpickled checkpoint.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        InvalidCheckpointError: If the file is not a checkpoint (empty, a web page, a Git LFS
            pointer, other bytes) or a damaged one (truncated, corrupted); the message names
            the file, what it is and the fix.
        UnsafeCheckpointError: If the file pickles a global outside the allow-list and is not
            trusted. The message names the global and how to opt in for this file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    check_checkpoint_file(path)
    try:
        if _is_trusted(path):
            return torch.load(path, map_location=map_location, weights_only=False)
        return load_weights_only(path, map_location, MMENGINE_SAFE_GLOBALS)
    except pickle.UnpicklingError as err:
        refused = _is_refused_global(err)
        if refused is None:
            raise _damaged(path, err) from err
        raise UnsafeCheckpointError(
            f'Refusing to unpickle {path}: it contains {refused}, which is neither a tensor nor '
            'one of the classes mmengine writes into its checkpoints. Unpickling it could run '
            'arbitrary code. If you trust this file, opt in for it alone with '
            f'`{TRUST_ENV}={path}` (several files: separate them with "{os.pathsep}") or '
            f'`smt_mm.models.checkpoint.trust_checkpoint({path!r})`.'
        ) from err
    except (EOFError, RuntimeError, ValueError, zipfile.BadZipFile) as err:
        raise _damaged(path, err) from err


def _damaged(path: str, err: BaseException) -> InvalidCheckpointError:
    detail = str(err).split('. ')[0] or type(err).__name__
    return InvalidCheckpointError(
        path,
        'damaged',
        f'Cannot load checkpoint {path}: it is damaged (truncated or corrupted; '
        f'{osp.getsize(path)} bytes; torch says: {detail}). A save or copy was probably '
        f'interrupted: {_REDOWNLOAD}, or use an earlier checkpoint of the run.',
    )


def check_checkpoint_weights(checkpoint: Mapping, path: str) -> None:
    """Refuse a loaded checkpoint that holds no model weights, or weights that are not finite.

    The weights are the state dict under ``'state_dict'`` or ``'model'``, else the mapping
    itself (:func:`~smt_mm.models.checkpoint.unwrap_state_dict`).

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        path (str): Its file, for the message.

    Raises:
        InvalidCheckpointError: ``kind='no-weights'`` if no tensor is there (e.g. a file that
            holds only an optimizer state); ``kind='non-finite'`` if a floating-point tensor
            holds NaN or infinite values (the run that saved it diverged). The message names
            the file and its top-level keys, or the first bad keys.
    """
    state_dict = unwrap_state_dict(checkpoint)
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise InvalidCheckpointError(
            path,
            'no-weights',
            f'Cannot load checkpoint {path}: it holds no model weights (keys: '
            f'{", ".join(map(str, list(checkpoint)[:10]))}), e.g. an optimizer state saved '
            'alone. Pass the checkpoint that tools/train.py wrote (iter_N.pth / epoch_N.pth, '
            "with a 'state_dict') or a released model file.",
        )
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise InvalidCheckpointError(
            path,
            'non-finite',
            f'Cannot load checkpoint {path}: {len(bad)} of its {len(tensors)} weight tensors '
            f'hold NaN or infinite values (first: {", ".join(bad[:5])}). The training run that '
            'saved it diverged: use an earlier checkpoint of that run, and see '
            'docs/troubleshooting.md on a NaN loss.',
        )


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    """Drop-in for mmengine's ``load_from_local``: loads safely, checks, converts official models.

    A checkpoint without weights, or with NaN / infinite ones, is refused
    (:func:`check_checkpoint_weights`). A whole detector or segmentor trained with the official
    SMT code is converted to smt_mm's layout here (see
    :func:`~smt_mm.models.checkpoint.convert_official_checkpoint`), so that ``load_from``,
    ``tools/test.py`` and mmdet's / mmseg's own tools load it strictly.
    """
    filename = osp.expanduser(filename)
    checkpoint = safe_torch_load(filename, map_location=map_location)
    if not isinstance(checkpoint, dict):
        return checkpoint
    check_checkpoint_weights(checkpoint, filename)
    converted, note = convert_official_checkpoint(checkpoint)
    if note is None:
        return checkpoint
    print_log(f'{filename}: {note}', logger='current')
    return converted


def register_safe_loader() -> None:
    """Make mmengine load local checkpoints through :func:`safe_torch_load`.

    Covers ``Runner.resume`` / ``load_from``, ``load_checkpoint`` and ``init_cfg`` of type
    ``Pretrained`` for local paths. Calling it again is harmless.
    """
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
