"""Reading a config and checking it before anything is built.

:func:`load_config` is the one way configs are read (file or ``Config``, ``--cfg-options``
checked and merged, default scope set); :mod:`.cfg_options` rejects override keys the run would
ignore and neck widths that do not fit the SMT backbone, :mod:`.paths` reports every missing
local file at once, and :mod:`.scopes` holds what differs between mmdet, mmseg and mmpretrain.
"""

from .cfg_options import ConfigCheckError, check_cfg_options, check_neck_channels
from .loading import LAUNCHERS, load_config
from .paths import ConfigPathError, check_config_paths, collect_config_paths
from .scopes import SUPPORTED_SCOPES, add_dump_results, apply_tta, enable_visualization, get_scope

__all__ = [
    'LAUNCHERS',
    'SUPPORTED_SCOPES',
    'ConfigCheckError',
    'ConfigPathError',
    'add_dump_results',
    'apply_tta',
    'check_cfg_options',
    'check_config_paths',
    'check_neck_channels',
    'collect_config_paths',
    'enable_visualization',
    'get_scope',
    'load_config',
]
