"""Quiet consoles (``smt_mm.apis.quiet``): known-harmless messages leave the console, not the log.

An unknown warning or log message must still reach the user, and ``--verbose`` restores all.
"""

import argparse
import itertools
import warnings

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.visualization import Visualizer
from mmseg.models.builder import build_loss

from smt_mm.apis.command_line import parse_with_verbosity
from smt_mm.apis.quiet import (
    QUIET_LOG_MESSAGES,
    ConsoleQuietRunner,
    is_quiet,
    quiet_console,
    set_verbosity,
)

_names = itertools.count()


@pytest.fixture(autouse=True)
def verbose_afterwards():
    yield
    set_verbosity(True)  # the state of a process that never asked for quiet


def _logger(tmp_path):
    """A logger with a console (pytest's captured stdout) and a log file, like a runner's."""
    log_file = tmp_path / f'run{next(_names)}.log'
    logger = MMLogger.get_instance(f'test_quiet_{next(_names)}', log_file=str(log_file))
    return quiet_console(logger), log_file


#: Messages as mmengine words them (one of each kind of QUIET_LOG_MESSAGES).
KNOWN = [
    'paramwise_options -- backbone.norms.0.weight:weight_decay=0.0',
    '\nbackbone.patch_embed.proj.weight - torch.Size([32, 3, 3, 3]): \nInitialized by '
    'user-defined `init_weights` in SMT  \n ',
    '\n' + '-' * 60 + '\nSystem environment:\n    sys.platform: linux\n',
    "Config:\nmodel = dict(type='MaskRCNN')",
    'Hooks will be executed in the following order:\nbefore_run:',
    'Distributed training is not used, all SyncBatchNorm (SyncBN) layers in the model will be '
    'automatically reverted to BatchNormXd layers if they are used.',
    '"FileClient" will be deprecated in future. Please use io functions in https://x',
    '"HardDiskBackend" is the alias of "LocalBackend" and the former will be deprecated.',
]


def test_every_known_kind_has_an_example():
    assert len(KNOWN) == len(QUIET_LOG_MESSAGES)


def test_known_messages_leave_the_console_not_the_log_file(tmp_path, capsys):
    logger, log_file = _logger(tmp_path)
    set_verbosity(False)
    assert is_quiet()
    for message in KNOWN:
        logger.info(message)
    logger.info('Iter(train) [10/400]  loss: 2.6688')
    logger.warning('a warning nobody has seen before')
    out = capsys.readouterr().out
    assert 'Iter(train) [10/400]' in out and 'a warning nobody has seen before' in out
    for marker in ('paramwise_options', 'torch.Size', 'System environment', 'Config:', 'Hooks'):
        assert marker not in out
    assert 'SyncBatchNorm' not in out and 'FileClient' not in out and 'HardDisk' not in out
    record = log_file.read_text()
    for marker in ('paramwise_options', 'torch.Size', 'System environment', 'Config:', 'Iter'):
        assert marker in record

    set_verbosity(True)
    assert not is_quiet()
    logger.info(KNOWN[0])
    logger.info(KNOWN[3])
    out = capsys.readouterr().out
    assert 'paramwise_options' in out and 'Config:' in out


def _draw_out_of_bounds_and_resized_featmap(visualizer):
    visualizer.draw_bboxes(torch.tensor([[2, 2, 40, 40]]))  # beyond the 16 px image
    Visualizer.draw_featmap(torch.rand(1, 4, 4), np.zeros((16, 16, 3), np.uint8))
    build_loss(dict(type='mmseg.CrossEntropyLoss'))  # deprecated; warns about avg_non_ignore


def test_known_warnings_are_ignored_and_others_still_shown():
    visualizer = Visualizer(image=np.zeros((16, 16, 3), np.uint8), name=f'v{next(_names)}')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        set_verbosity(False)
        _draw_out_of_bounds_and_resized_featmap(visualizer)
        warnings.warn('an unknown problem', UserWarning, stacklevel=1)
        assert [str(w.message) for w in caught if w.category is UserWarning] == [
            'an unknown problem'
        ]
        caught.clear()

        set_verbosity(True)
        _draw_out_of_bounds_and_resized_featmap(visualizer)
        messages = ' '.join(str(w.message) for w in caught)
        assert 'bbox is out of bounds' in messages
        assert 'the feature map will be interpolated' in messages
        assert 'avg_non_ignore' in messages and 'build_loss' in messages


def test_tools_parse_verbose(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument('--size', type=int, default=1)
    assert parse_with_verbosity(parser, ['--size', '2']) == argparse.Namespace(
        size=2, verbose=False
    )
    assert is_quiet()
    assert parse_with_verbosity(argparse.ArgumentParser(), ['--verbose']).verbose
    assert not is_quiet()


def test_runner_console_is_quiet_from_its_first_record(tmp_path, capsys):
    set_verbosity(False)
    runner = ConsoleQuietRunner(
        model=torch.nn.Linear(1, 1),
        work_dir=str(tmp_path),
        experiment_name=f'quiet_runner_{next(_names)}',
        cfg=dict(note='a config'),
    )
    out = capsys.readouterr().out
    assert 'System environment' not in out and 'Config:' not in out
    record = (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()
    assert 'System environment' in record and "note = 'a config'" in record
