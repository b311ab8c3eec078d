"""All checkpoint logic of smt_mm: safe reading, conversion, strict loading, inspection.

* :mod:`.safe_load`: ``weights_only`` unpickling with mmengine's classes allow-listed, clear
  errors for files that are no checkpoint, hold no weights or NaN / infinite ones, and the
  loader that ``import smt_mm`` installs in mmengine (:func:`register_safe_loader`; official
  whole models are converted as they load).
* :mod:`.convert`: pure ``state_dict -> state_dict`` conversion of the official layouts, safe to
  run twice (:func:`convert_official_smt`, :func:`convert_official_checkpoint`).
* :mod:`.strict_load`: the one strict check (:func:`check_state_dict`) and the loaders built on
  it: :func:`load_backbone_checkpoint` (the SMT backbone's ``Pretrained`` ``init_cfg``) and
  :func:`load_model_checkpoint` (a whole detector, segmentor or classifier).
* :mod:`.inspection`: :func:`inspect_checkpoint` and :func:`compare_with_model`, what
  ``tools/analysis/check_checkpoint.py`` prints.
"""

from .convert import (
    checkpoint_meta,
    convert_official_checkpoint,
    convert_official_smt,
    official_model_kind,
    unwrap_state_dict,
)
from .inspection import CheckpointReport, compare_with_model, describe_arch, inspect_checkpoint
from .safe_load import (
    MMENGINE_SAFE_GLOBALS,
    TRUST_ENV,
    InvalidCheckpointError,
    UnsafeCheckpointError,
    check_checkpoint_file,
    check_checkpoint_weights,
    register_safe_loader,
    safe_torch_load,
    trust_checkpoint,
)
from .strict_load import (
    CheckpointMismatchError,
    check_state_dict,
    diff_state_dict,
    load_backbone_checkpoint,
    load_model_checkpoint,
    model_state_dict,
)

__all__ = [
    'CheckpointMismatchError',
    'CheckpointReport',
    'InvalidCheckpointError',
    'MMENGINE_SAFE_GLOBALS',
    'TRUST_ENV',
    'UnsafeCheckpointError',
    'check_checkpoint_file',
    'check_checkpoint_weights',
    'check_state_dict',
    'checkpoint_meta',
    'compare_with_model',
    'convert_official_checkpoint',
    'convert_official_smt',
    'describe_arch',
    'diff_state_dict',
    'inspect_checkpoint',
    'load_backbone_checkpoint',
    'load_model_checkpoint',
    'model_state_dict',
    'official_model_kind',
    'register_safe_loader',
    'safe_torch_load',
    'trust_checkpoint',
    'unwrap_state_dict',
]
