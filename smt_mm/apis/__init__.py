"""Library functions behind the tools: train, test, and build a config's model.

One launcher for mmdet, mmseg and mmpretrain: a config's ``default_scope`` decides the toolbox.
:func:`build_model` is the one way every tool, demo, visualiser, exporter and analysis builds a
config's model; :mod:`.command_line` holds the options and error handling the tools share.
"""

from .model import build_model
from .runner import (
    DIST_TIMEOUT,
    build_runner,
    prepare_train_config,
    setup_device,
    test_model,
    train_model,
    training_outputs,
    write_eval_json,
)

__all__ = [
    'DIST_TIMEOUT',
    'build_model',
    'build_runner',
    'prepare_train_config',
    'setup_device',
    'test_model',
    'train_model',
    'training_outputs',
    'write_eval_json',
]
