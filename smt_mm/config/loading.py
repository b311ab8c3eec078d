"""The one way smt_mm reads a config: file or ``Config``, ``--cfg-options`` checked and merged."""

import copy
import os.path as osp
from collections.abc import Mapping
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import init_default_scope

from .cfg_options import check_cfg_options, check_neck_channels
from .scopes import get_scope

#: The ``--launcher`` choices of the tools (mmengine's ``Runner`` launchers).
LAUNCHERS: tuple[str, ...] = ('none', 'pytorch', 'slurm', 'mpi')


def load_config(
    config: str | Path | Config,
    cfg_options: Mapping | None = None,
    work_dir: str | None = None,
    launcher: str = 'none',
) -> Config:
    """Read a config, merge command-line overrides, set its default scope and work dir.

    Every tool, demo, visualiser, exporter and analysis of smt_mm reads its config here.

    Args:
        config (str | Path | Config): The config file, or a config (copied, never changed).
        cfg_options (Mapping, optional): ``--cfg-options`` overrides (dotted keys), checked by
            :func:`~smt_mm.config.check_cfg_options` before they are merged. Defaults to None.
        work_dir (str, optional): The work dir; when None, the config's ``work_dir`` or else
            ``./work_dirs/<config name>``. Defaults to None.
        launcher (str): One of :data:`LAUNCHERS`. Defaults to ``'none'``.

    Returns:
        Config: The config, with ``launcher`` and ``work_dir`` set; its ``default_scope`` is
        mmengine's current scope.

    Raises:
        FileNotFoundError: If ``config`` does not exist.
        ValueError: If the launcher or the config's ``default_scope`` is not supported.
        ConfigCheckError: If a ``cfg_options`` key is unknown (see
            :func:`~smt_mm.config.check_cfg_options`) or the neck's ``in_channels`` do not
            match an SMT backbone.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif osp.isfile(config):
        cfg = Config.fromfile(str(config))
    else:
        raise FileNotFoundError(f'config file not found: {config}')
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(dict(cfg_options))
    init_default_scope(get_scope(cfg))
    check_neck_channels(cfg)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None and cfg.filename:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(cfg.filename))[0])
    return cfg
