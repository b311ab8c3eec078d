"""README.md and docs/*.md stay honest: links, paths, names and commands point at what exists.

What each page quotes is checked against the repository itself: every relative link (and its
``#anchor``) resolves, every repository path and ``smt_mm.`` name written as code exists, every
``make`` target is in the Makefile, and every ``python tools/...`` command (also those passed
through ``tools/dist_*.sh`` and ``tools/slurm_*.sh``) uses only options its tool's parser
declares; a command without placeholders (``[...]``, ``...``, ``|``) is parsed whole.
"""

import argparse
import functools
import importlib
import re
import shlex
import sys
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
import yaml
from conftest import REPO_ROOT, load_tool

import smt_mm

ROOT = Path(REPO_ROOT)
README = ROOT / 'README.md'
PAGES = [README, *sorted((ROOT / 'docs').glob('*.md'))]
MAX_README_LINES = 200

FENCE = re.compile(r'^```([\w-]*)\n(.*?)^```', re.M | re.S)
INLINE_CODE = re.compile(r'`([^`\n]+)`')
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
HEADING = re.compile(r'^#{1,6} +(.+?) *#*$', re.M)
#: Code spans naming a file or folder of the repository (no wildcards or placeholders).
REPO_PATH = re.compile(
    r'(?<![\w./-])(?:tools|configs|smt_mm|tests|docs|requirements|\.dev_scripts|\.ci)/[\w./-]*'
)
PYTHON_NAME = re.compile(r'smt_mm(?:\.\w+)+')
SHELL_LANGUAGES = {'', 'bash', 'sh', 'shell'}
#: Launchers that hand their extra arguments to one of the Python tools.
LAUNCHERS = {
    'tools/dist_train.sh': 'tools/train.py',
    'tools/slurm_train.sh': 'tools/train.py',
    'tools/dist_test.sh': 'tools/test.py',
    'tools/slurm_test.sh': 'tools/test.py',
}
PLACEHOLDER = re.compile(r'[\[\]|]|\.\.\.')


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _prose(text: str) -> str:
    """The page without its fenced code blocks (their ``#`` comments are no headings)."""
    return FENCE.sub('', text)


def _shell_blocks(text: str) -> list[str]:
    return [body for language, body in FENCE.findall(text) if language in SHELL_LANGUAGES]


def _code_spans(text: str) -> list[str]:
    return INLINE_CODE.findall(_prose(text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading).lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub gives the headings of a page (repeated headings get ``-1``, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(_prose(page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f'{base}-{count}')
    return result


def commands(text: str) -> list[list[str]]:
    """The shell commands of a page's code blocks and code spans, as argument lists.

    Continuation lines are joined, comments dropped, ``&&`` / ``;`` chains split, leading
    ``NAME=value`` assignments removed.
    """
    lines = []
    for block in _shell_blocks(text):
        lines += block.replace('\\\n', ' ').splitlines()
    lines += [
        span
        for span in _code_spans(text)
        if re.match(r'([A-Z_]+=\S*\s+)*(python|make|bash) ', span)
    ]
    result = []
    for line in lines:
        for part in re.split(r'&&|;', re.sub(r'(^|\s)#.*', '', line)):
            try:
                argv = shlex.split(part)
            except ValueError:  # an unbalanced quote in prose: not a command
                continue
            while argv and re.fullmatch(r'[A-Z_]+=\S*', argv[0]):
                argv = argv[1:]
            if argv:
                result.append(argv)
    return result


class _Parser(Exception):
    """Carries the parser a tool built out of its ``main``."""


@functools.cache
def tool_parser(script: str) -> argparse.ArgumentParser:
    """The argument parser of a tool, taken from its ``main()`` before it parses anything."""
    module: ModuleType = load_tool(script)

    def capture(self, args=None, namespace=None):
        raise _Parser(self)

    with (
        mock.patch.object(argparse.ArgumentParser, 'parse_known_args', capture),
        mock.patch.object(sys, 'argv', [script]),
        pytest.raises(_Parser) as captured,
    ):
        module.main()
    return captured.value.args[0]


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option of a parser and of its sub-commands."""
    options = set()
    for action in parser._actions:  # argparse exposes no public list of its actions
        options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= option_strings(sub)
    return options


def check_tool_command(script: str, args: list[str]) -> list[str]:
    """Problems of one tool command line: unknown options, or a parse error when it is concrete."""
    parser = tool_parser(script)
    known = option_strings(parser)
    problems = [
        f'{script}: no option {flag}'
        for flag in (arg.strip('[]').split('=')[0] for arg in args)
        if flag.startswith('--') and flag not in known
    ]
    if not problems and not any(PLACEHOLDER.search(arg) for arg in args):
        try:
            parser.parse_args(args)
        except SystemExit:
            problems.append(f'{script} does not parse {shlex.join(args)}')
    return problems


def makefile_targets() -> set[str]:
    return set(re.findall(r'^([\w-]+):', (ROOT / 'Makefile').read_text(), re.M))


@pytest.mark.parametrize('page', PAGES, ids=_page_id)
def test_relative_links_and_anchors_resolve(page):
    text = _prose(page.read_text())
    problems = []
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):  # https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            problems.append(f'{target}: no such file')
        elif anchor and resolved.suffix == '.md' and anchor not in anchors(resolved):
            problems.append(f'{target}: no heading with that anchor')
    assert not problems, f'{_page_id(page)}: {problems}'


@pytest.mark.parametrize('page', PAGES, ids=_page_id)
def test_quoted_paths_and_names_exist(page):
    text = page.read_text()
    problems = []
    spans = _code_spans(text) + [arg for argv in commands(text) for arg in argv]
    for span in spans:
        for path in REPO_PATH.findall(span):
            if not re.search(r'[*{$<]|\.\.\.', span) and not (ROOT / path).exists():
                problems.append(f'{path}: no such file or folder')
    for span in _code_spans(text):
        name = PYTHON_NAME.match(span)
        if name and not _resolves(name.group()):
            problems.append(f'{name.group()}: no such module or attribute')
    assert not problems, f'{_page_id(page)}: {sorted(set(problems))}'


def _resolves(dotted: str) -> bool:
    parts = dotted.split('.')
    for end in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:end]))
        except ImportError:
            continue
        for name in parts[end:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


@pytest.mark.parametrize('page', PAGES, ids=_page_id)
def test_commands_use_existing_tools_targets_and_options(page):
    problems = []
    targets = makefile_targets()
    for argv in commands(page.read_text()):
        program, args = argv[0], argv[1:]
        if program == 'make':
            missing = [target for target in args if '=' not in target and target not in targets]
            problems += [f'make {target}: no such target' for target in missing]
        elif program == 'bash' and args and args[0] in LAUNCHERS:
            tool = LAUNCHERS[args[0]]
            problems += [p for p in check_tool_command(tool, args[1:]) if 'no option' in p]
        elif program == 'python' and args and args[0].endswith('.py'):
            script = args[0]
            if not (ROOT / script).is_file():
                problems.append(f'{script}: no such script')
            elif script.startswith(('tools/', '.dev_scripts/')):
                problems += check_tool_command(script, args[1:])
    assert not problems, f'{_page_id(page)}: {problems}'


def test_readme_is_short():
    lines = README.read_text().count('\n')
    assert lines <= MAX_README_LINES, (
        f'README.md has {lines} lines (at most {MAX_README_LINES}): move a topic to docs/'
    )


def test_citation_describes_this_release():
    citation = yaml.safe_load((ROOT / 'CITATION.cff').read_text())
    assert citation['cff-version'] == '1.2.0'
    assert citation['version'] == smt_mm.__version__
    assert citation['license'] == 'Apache-2.0'
    paper = citation['preferred-citation']
    assert paper['title'] == 'Scale-Aware Modulation Meet Vision Transformer'
    assert paper['year'] == 2023
    assert [a['family-names'] for a in paper['authors']] == ['Lin', 'Wu', 'Chen', 'Huang', 'Jin']
    assert 'lin2023smt' in README.read_text()
    assert (ROOT / 'LICENSE').read_text().lstrip().startswith('Apache License\n')


def test_checks_catch_what_they_guard_against(tmp_path):
    """The helpers above find a wrong option, a bad parse, a heading anchor and a command."""
    assert check_tool_command('tools/demo.py', ['segmentation', '--max-iters', '12']) == []
    assert check_tool_command('tools/demo.py', ['--max-iter', '12']) == [
        'tools/demo.py: no option --max-iter'
    ]
    assert check_tool_command('tools/demo.py', ['classification']) == [
        'tools/demo.py does not parse classification'
    ]
    assert check_tool_command('tools/toy_data.py', ['coco', 'DIR', '--textured']) == []
    page = tmp_path / 'page.md'
    page.write_text('# What `import smt_mm` does\n\n```bash\n# not a heading\nmake demo\n```\n')
    assert anchors(page) == {'what-import-smt_mm-does'}
    assert commands(page.read_text()) == [['make', 'demo']]
    assert commands('`GPUS=8 bash tools/dist_train.sh C 8 --amp`') == [
        ['bash', 'tools/dist_train.sh', 'C', '8', '--amp']
    ]
