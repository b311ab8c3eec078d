"""The layering of smt_mm's packages (the package docstring): no cycle, no private imports.

Every import of every module of smt_mm (module level or inside a function) is read with ``ast``
and mapped to the package it reaches; a package may only import its own modules and packages of
a lower layer, and never a name starting with ``_`` from another package.
"""

import ast
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import smt_mm

PACKAGE_ROOT = Path(REPO_ROOT) / 'smt_mm'
#: The layer of each package of smt_mm: a package imports only packages of a lower layer.
LAYERS = {
    'utils': 0, 'toydata': 0, 'version': 0,
    'models': 1,
    'engine': 2, 'datasets': 2, 'evaluation': 2, 'config': 2,
    'apis': 3,
    'visualization': 4, 'deployment': 4, 'analysis': 4,
    'benchmark': 5, 'demo': 5, 'maps': 5,
}  # fmt: skip


def _module_parts(path: Path) -> list[str]:
    """``smt_mm/a/b.py`` -> ``['smt_mm', 'a', 'b']``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix('').parts)
    return parts[:-1] if parts[-1] == '__init__' else parts


def imports_of(path: Path, text: str | None = None) -> list[tuple[str, list[str], int]]:
    """Every smt_mm module a file imports: ``(dotted module, imported names, line)``."""
    parts = _module_parts(path)
    is_package = path.name == '__init__.py'
    found = []
    for node in ast.walk(ast.parse(path.read_text() if text is None else text, str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith('smt_mm')]
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level:
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - node.level + 1]
                module = '.'.join([*base, node.module] if node.module else base)
            else:
                module = node.module or ''
            if not module.startswith('smt_mm'):
                continue
            if node.module is None or module == 'smt_mm':  # ``from . import engine, models``
                found += [(f'{module}.{name}', [], node.lineno) for name in names]
            else:
                found.append((module, names, node.lineno))
    return found


def _package(dotted: str) -> str | None:
    parts = dotted.split('.')
    return parts[1] if len(parts) > 1 else None


def _edges() -> list[tuple[str, str, str, list[str]]]:
    """``(package, imported package, 'file:line', names)`` of every cross-package import."""
    edges = []
    for path in sorted(PACKAGE_ROOT.rglob('*.py')):
        package = _package('.'.join(_module_parts(path)))
        if package is None:  # smt_mm/__init__.py registers everything: it may import all
            continue
        for module, names, line in imports_of(path):
            target = _package(module)
            if target is not None and target != package:
                where = f'{path.relative_to(REPO_ROOT)}:{line}'
                edges.append((package, target, where, names))
    return edges


def test_every_package_has_a_layer():
    found = {p.name for p in PACKAGE_ROOT.iterdir() if (p / '__init__.py').is_file()}
    found |= {p.stem for p in PACKAGE_ROOT.glob('*.py') if p.stem != '__init__'}
    assert found == set(LAYERS), 'place every package in LAYERS and in the package docstring'


def test_packages_import_only_lower_layers():
    wrong = [
        f'{where}: {package} (layer {LAYERS[package]}) imports {target} (layer {LAYERS[target]})'
        for package, target, where, _ in _edges()
        if LAYERS[target] >= LAYERS[package]
    ]
    assert not wrong, 'imports against the layering of smt_mm/__init__.py:\n' + '\n'.join(wrong)


def test_no_private_name_is_imported_from_another_package():
    private = [
        f'{where}: {package} imports {name} from {target}'
        for package, target, where, names in _edges()
        for name in names
        if name.startswith('_') and not name.startswith('__')
    ]
    assert not private, '\n'.join(private)


def test_the_layering_is_written_in_the_package_docstring():
    doc = smt_mm.__doc__ or ''
    for package in LAYERS:
        if package != 'version':
            assert f'``{package}``' in doc, f'the package docstring does not place {package}'


@pytest.mark.parametrize(
    'source,expected',
    [
        ('from ..apis import build_model', [('smt_mm.apis', ['build_model'])]),
        ('from .. import benchmark', [('smt_mm.benchmark', [])]),
        ('from .cases import _swap', [('smt_mm.deployment.cases', ['_swap'])]),
        ('import smt_mm.models.backbones', [('smt_mm.models.backbones', [])]),
        ('def f():\n    from ..engine import RunError', [('smt_mm.engine', ['RunError'])]),
        ('import os\nfrom torch import nn', []),
    ],
)
def test_imports_are_resolved_relative_to_the_module(source, expected):
    path = PACKAGE_ROOT / 'deployment' / 'probe.py'  # the text stands for this (absent) module
    assert [(module, names) for module, names, _ in imports_of(path, source)] == expected


def test_a_package_init_resolves_from_itself():
    path = PACKAGE_ROOT / 'benchmark' / '__init__.py'
    assert imports_of(path, 'from .cases import BACKBONES\nfrom ..apis import build_model') == [
        ('smt_mm.benchmark.cases', ['BACKBONES'], 1),
        ('smt_mm.apis', ['build_model'], 2),
    ]
