"""Library functions behind ``tools/train.py`` and ``tools/test.py``.

One launcher for mmdet, mmseg and mmpretrain: a config's ``default_scope`` decides the toolbox.
"""

from .checks import ConfigPathError, check_config_paths, collect_config_paths
from .runner import (
    LAUNCHERS,
    build_runner,
    load_config,
    prepare_train_config,
    setup_device,
    test_model,
    train_model,
    write_eval_json,
)
from .scopes import SUPPORTED_SCOPES, add_dump_results, apply_tta, enable_visualization, get_scope

__all__ = [
    'LAUNCHERS',
    'SUPPORTED_SCOPES',
    'ConfigPathError',
    'add_dump_results',
    'apply_tta',
    'build_runner',
    'check_config_paths',
    'collect_config_paths',
    'enable_visualization',
    'get_scope',
    'load_config',
    'prepare_train_config',
    'setup_device',
    'test_model',
    'train_model',
    'write_eval_json',
]
