"""The options and error handling shared by the tools (``smt_mm.apis.command_line``)."""

import argparse
import os

import pytest

from smt_mm.apis.command_line import (
    ERROR_DIR_ENV,
    add_cfg_options_argument,
    add_model_arguments,
    exit_on_user_error,
    keyword_options,
    parse_size,
    parse_tool_args,
    print_outputs,
)
from smt_mm.config import ConfigPathError


def _parser(**kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_model_arguments(parser, **kwargs)
    return parser


def test_model_arguments_declare_config_checkpoint_and_cfg_options():
    args = _parser().parse_args(['c.py', '--cfg-options', 'a.b=1', 'c=[1,2]'])
    assert (args.config, args.checkpoint, args.cfg_options) == (
        'c.py',
        None,
        {'a.b': 1, 'c': [1, 2]},
    )
    assert _parser(checkpoint='required').parse_args(['c.py', 'w.pth']).checkpoint == 'w.pth'
    with pytest.raises(SystemExit):
        _parser(checkpoint='required').parse_args(['c.py'])
    assert 'checkpoint' not in vars(_parser(checkpoint='none').parse_args(['c.py']))
    with pytest.raises(ValueError, match='checkpoint must be one of'):
        _parser(checkpoint='maybe')


def test_cfg_options_alone_and_launcher_options(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    parser = argparse.ArgumentParser()
    add_cfg_options_argument(parser, 'every config')
    assert 'of every config' in parser.format_help().replace('\n', ' ')
    args = parse_tool_args(parser, ['--local-rank', '3'])
    assert (args.launcher, args.cfg_options) == ('none', None)
    assert os.environ['LOCAL_RANK'] == '3'
    with pytest.raises(SystemExit):
        parse_tool_args(argparse.ArgumentParser(), ['--launcher', 'ssh'])


def test_keyword_options_and_sizes():
    args = argparse.Namespace(tta=True, out='x.pkl', other=1)
    assert keyword_options(args, 'tta', 'out') == {'tta': True, 'out': 'x.pkl'}
    assert parse_size('800x1344') == (800, 1344, 1) and parse_size('8x4x2') == (8, 4, 2)
    with pytest.raises(argparse.ArgumentTypeError, match='HxW or HxWxBATCH'):
        parse_size('800')


def test_user_errors_exit_with_their_message():
    with pytest.raises(SystemExit, match='error: the config names paths'):
        with exit_on_user_error():
            raise ConfigPathError([('load_from', 'x.pth', 'checkpoint')])
    with pytest.raises(SystemExit, match='error: no such image'):
        with exit_on_user_error(FileNotFoundError):
            raise FileNotFoundError('no such image')
    with pytest.raises(FileNotFoundError):  # not a user error of this tool: a traceback
        with exit_on_user_error():
            raise FileNotFoundError('no such image')


def test_ranks_of_a_launch_record_their_error_for_the_launcher(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ERROR_DIR_ENV, str(tmp_path))
    monkeypatch.setenv('RANK', '3')
    with pytest.raises(SystemExit) as stop:
        with exit_on_user_error():
            raise ConfigPathError([('load_from', 'x.pth', 'checkpoint')])
    assert stop.value.code == 1  # silent: the launcher prints the first rank's line
    assert capsys.readouterr() == ('', '')
    (record,) = tmp_path.iterdir()
    assert record.name.endswith('.rank3')
    assert record.read_text().startswith('error: the config names paths that do not exist')
    monkeypatch.setenv(ERROR_DIR_ENV, str(tmp_path / 'gone'))  # no such folder: print it
    with pytest.raises(SystemExit, match='error: the config names paths'):
        with exit_on_user_error():
            raise ConfigPathError([('load_from', 'x.pth', 'checkpoint')])


def test_outputs_are_the_last_lines(capsys):
    print_outputs({'checkpoint': 'w/iter_4.pth', 'pictures': None, 'log': 'w/t/t.log'})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ['written:', '  checkpoint: w/iter_4.pth', '  log:        w/t/t.log']
    print_outputs({'pictures': None})
    assert capsys.readouterr().out == ''
