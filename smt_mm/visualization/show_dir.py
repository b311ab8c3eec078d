"""The ``--show-dir`` visualisers join the toolboxes' registries by name, imported when built.

:func:`register_visualizers` (run by ``import smt_mm``) puts ``SMTDetLocalVisualizer`` in mmdet's
``VISUALIZERS`` and ``SMTSegLocalVisualizer`` in mmseg's, each for the toolbox that is installed,
as a builder that imports :mod:`.visualizers` when the first visualiser is built. Importing the
toolboxes' visualisation modules takes about 0.75 s (2-core CPU), which every process that
imports smt_mm would otherwise pay, also those that draw nothing. What is built is what the
registry would build from the class: ``VISUALIZERS.build(dict(type=NAME, name=..., ...))`` and
``VISUALIZERS.get(NAME)(name=..., ...)`` return the one instance of that name (mmengine's
``ManagerMixin.get_instance``).
"""

from collections.abc import Callable
from importlib import import_module
from typing import Any

from ..config.scopes import VISUALIZERS
from ..utils.compat import TOOLBOXES, toolbox_available


def _builder(name: str) -> Callable[..., Any]:
    """A function that builds visualiser ``name`` of :mod:`.visualizers`, importing it first."""

    def build(**kwargs: Any) -> Any:
        visualizers = import_module('.visualizers', __package__)
        return getattr(visualizers, name).get_instance(**kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f'Build a :class:`~smt_mm.visualization.visualizers.{name}` (``name`` first).'
    return build


def register_visualizers() -> None:
    """Register each ``--show-dir`` visualiser whose toolbox is installed, by name, once.

    The names are those :func:`~smt_mm.config.enable_visualization` selects
    (:data:`smt_mm.config.scopes.VISUALIZERS`), each in its toolbox's registry.
    """
    for distribution, (scope, _) in TOOLBOXES.items():
        if scope in VISUALIZERS and toolbox_available(distribution):
            name = VISUALIZERS[scope][1]
            registry = import_module(f'{scope}.registry').VISUALIZERS
            if name not in registry.module_dict:
                registry.register_module(name=name, module=_builder(name))
