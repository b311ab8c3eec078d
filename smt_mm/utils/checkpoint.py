"""Safe (``weights_only``) checkpoint loading for mmengine on torch >= 2.6.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch 2.6 that means
``weights_only=True``, and resuming a run fails because mmengine's own checkpoints pickle a
few of its classes (mmengine issue #1655: ``HistoryBuffer was not an allowed global``).

:func:`register_safe_loader` replaces mmengine's loader for local paths (the ``''`` scheme of
:class:`mmengine.runner.CheckpointLoader`) by one that keeps ``weights_only=True`` and
allow-lists exactly the globals that mmengine writes into its checkpoints. A file that pickles
anything else is refused with :class:`UnsafeCheckpointError`, unless the user marks that file
as trusted with :func:`trust_checkpoint` or the ``SMT_MM_TRUSTED_CHECKPOINTS`` variable.
"""

import importlib
import os
import os.path as osp
import pickle
import re
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

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


def safe_torch_load(path: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint with ``weights_only=True`` and mmengine's classes allow-listed.

    Args:
        path (str): A local checkpoint file.
        map_location (Any): Passed to :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: The unpickled checkpoint.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        UnsafeCheckpointError: If the file pickles a global outside the allow-list and is not
            trusted. The message names the global and how to opt in for this file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if _is_trusted(path):
        return torch.load(path, map_location=map_location, weights_only=False)
    try:
        with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r'GLOBAL (\S+) was not an allowed global', str(err))
        what = found.group(1) if found else 'an object that is not a tensor'
        raise UnsafeCheckpointError(
            f'Refusing to unpickle {path}: it contains {what}, which is neither a tensor nor '
            'one of the classes mmengine writes into its checkpoints. Unpickling it could run '
            'arbitrary code. If you trust this file, opt in for it alone with '
            f'`{TRUST_ENV}={path}` (several files: separate them with "{os.pathsep}") or '
            f'`smt_mm.utils.trust_checkpoint({path!r})`.'
        ) from err


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    """Drop-in for mmengine's ``load_from_local`` that loads safely."""
    filename = osp.expanduser(filename)
    return safe_torch_load(filename, map_location=map_location)


def register_safe_loader() -> None:
    """Make mmengine load local checkpoints through :func:`safe_torch_load`.

    Covers ``Runner.resume`` / ``load_from``, ``load_checkpoint`` and ``init_cfg`` of type
    ``Pretrained`` for local paths. Calling it again is harmless.
    """
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
