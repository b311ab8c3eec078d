"""Checks that the installed OpenMMLab stack is one that smt_mm supports.

The backbone needs torch, mmengine and mmcv (the core); mmdet, mmseg and mmpretrain are optional
toolboxes, each checked only when it is installed.
"""

import importlib
from importlib import metadata

from packaging.version import Version

#: Supported ``[min, max)`` version ranges, keyed by distribution name. They match
#: ``requirements/*.txt``; the reference environment pins one point inside each range.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmdet': ('3.0.0', '3.4.0'),
    'mmsegmentation': ('1.0.0', '1.3.0'),
    'mmpretrain': ('1.0.0', '1.3.0'),
}

#: Distributions ``import smt_mm`` cannot work without.
CORE = ('mmengine', 'mmcv')
#: Optional toolboxes: distribution name -> (import name, ``pip install smt_mm[extra]`` name).
TOOLBOXES: dict[str, tuple[str, str]] = {
    'mmdet': ('mmdet', 'det'),
    'mmsegmentation': ('mmseg', 'seg'),
    'mmpretrain': ('mmpretrain', 'cls'),
}

FIX_COMMAND = 'make venv  (reference env), or: pip install "{name}>={low},<{high}"'


class StackVersionError(ImportError):
    """Raised when an OpenMMLab package is missing or outside the supported range."""


#: Other distributions that provide the same import package (mmcv's build without compiled ops).
ALTERNATIVES = {'mmcv': ('mmcv-lite',)}


def installed_version(name: str) -> str | None:
    """Return the installed version of a distribution, or None if it is not installed.

    Args:
        name (str): The distribution name, e.g. ``'mmsegmentation'``. For ``'mmcv'``,
            ``mmcv-lite`` (mmcv without compiled ops, enough for the backbone) counts too.

    Returns:
        str | None: The version string, or None when the package is absent.
    """
    for dist in (name, *ALTERNATIVES.get(name, ())):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_stack(versions: dict[str, str | None] | None = None) -> None:
    """Check the OpenMMLab packages against :data:`SUPPORTED_VERSIONS`.

    The core packages (:data:`CORE`) must be installed; a toolbox of :data:`TOOLBOXES` is
    checked only when it is installed.

    Args:
        versions (dict, optional): Map of distribution name to found version (None when
            missing), for testing. Defaults to None, which reads the installed versions.

    Raises:
        StackVersionError: If a core package is missing or any installed package is outside
            its range. The message names every offending package, the version found, the
            supported range and the command that fixes it.
    """
    if versions is None:
        versions = {name: installed_version(name) for name in SUPPORTED_VERSIONS}
    problems = []
    for name, (low, high) in SUPPORTED_VERSIONS.items():
        found = versions.get(name)
        if found is None and name not in CORE:
            continue
        if found is not None and Version(low) <= Version(found) < Version(high):
            continue
        fix = FIX_COMMAND.format(name=name, low=low, high=high)
        problems.append(
            f'  {name}: found {found or "nothing (not installed)"}, '
            f'supported >={low},<{high}; fix: {fix}'
        )
    if problems:
        raise StackVersionError(
            'smt_mm needs a supported OpenMMLab 2.x stack:\n' + '\n'.join(problems)
        )


def toolbox_available(name: str) -> bool:
    """Whether an optional toolbox imports.

    Args:
        name (str): A distribution name of :data:`TOOLBOXES`, e.g. ``'mmsegmentation'``.

    Returns:
        bool: True when the toolbox imports, False when it is not installed.

    Raises:
        ImportError: If the toolbox is installed but fails to import (e.g. a dependency of its
            own is missing): that is an error to fix, not a toolbox to skip.
    """
    module, extra = TOOLBOXES[name]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise ImportError(
                f'{name} is installed but does not import: {err}. Install what it needs, e.g. '
                f'pip install "smt_mm[{extra}]".'
            ) from err
        return False
    return True


def stack_summary() -> str:
    """Return a one-line summary of the torch and OpenMMLab versions in use.

    Returns:
        str: e.g. ``'torch 2.14.1, mmengine 0.10.7, mmcv 2.1.0, ...'``.
    """
    names = ['torch', *SUPPORTED_VERSIONS]
    return ', '.join(f'{name} {installed_version(name)}' for name in names)
