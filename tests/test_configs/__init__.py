"""Config tests: every shipped config loads, builds and follows its recipe."""

import glob
import os.path as osp

from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import init_default_scope

CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')


def config_paths(task: str) -> list[str]:
    """The shipped configs of ``configs/<task>/`` (their ``_base_/`` files excluded)."""
    return sorted(glob.glob(osp.join(CONFIG_ROOT, task, '*.py')))


def load_for_build(path: str, scope: str) -> Config:
    """Load a shipped config to build its model: backbone weights off, ``scope`` the default.

    Every config names its toolbox as ``default_scope`` and imports smt_mm (the SMT backbone,
    the TTA models, the checked metrics, the safe checkpoint loader).
    """
    cfg = Config.fromfile(path)
    assert cfg.default_scope == scope
    assert cfg.custom_imports == dict(imports=['smt_mm'], allow_failed_imports=False)
    cfg.model.backbone.init_cfg = None
    init_default_scope(scope)
    return cfg
