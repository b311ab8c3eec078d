"""The one function that builds a config's model, for every tool, demo, visualiser and export."""

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS
from torch import nn

from ..config import load_config
from ..models.checkpoint import load_model_checkpoint


def build_model(
    config: str | Path | Config,
    checkpoint: str | None = None,
    cfg_options: Mapping | None = None,
    device: str = 'cpu',
    seed: int = 0,
) -> nn.Module:
    """Build a config's model in eval mode, with a checkpoint's weights or its initial ones.

    The config is read by :func:`~smt_mm.config.load_config` (``cfg_options`` checked, default
    scope set); a top-level ``data_preprocessor`` (mmpretrain's configs) goes into the model, as
    mmengine's ``Runner`` puts it, and SyncBN becomes BN. The config is kept as ``model.cfg``,
    as the toolboxes' own ``init_detector`` / ``init_model`` keep it.

    Args:
        config (str | Path | Config): The config or its path.
        checkpoint (str, optional): A checkpoint written by mmengine (whole model, keys and
            shapes checked strictly) or an official SMT classification file (converted, as
            :class:`~smt_mm.engine.SMTCheckpointHook` does). None: the weights that the config's
            ``init_cfg`` gives (random, or a backbone's ``Pretrained`` file). Defaults to None.
        cfg_options (Mapping, optional): Overrides, as ``--cfg-options``. Defaults to None.
        device (str): Where the model goes. Defaults to ``'cpu'``.
        seed (int): Seed of the initial weights (the same in every process; enough to check a
            pipeline, not to deploy). Defaults to 0.

    Returns:
        nn.Module: The model, in eval mode, with its config as ``model.cfg``.

    Raises:
        FileNotFoundError: If the config or a local checkpoint does not exist.
        CheckpointMismatchError: If the checkpoint's keys or shapes do not fit the model.
    """
    cfg = load_config(config, cfg_options)
    if cfg.get('data_preprocessor') is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = revert_sync_batchnorm(MODELS.build(cfg.model))
        if checkpoint is None:
            logger = MMLogger.get_current_instance()
            level = logger.level
            logger.setLevel(logging.WARNING)  # no line per initialised parameter
            try:
                model.init_weights()
            finally:
                logger.setLevel(level)
    if checkpoint is not None:
        load_model_checkpoint(model, checkpoint)
    model.cfg = cfg
    return model.to(device).eval()
