"""The supported stack, and one way to use each torch API whose form depends on the version.

:func:`check_stack` checks the installed torch, mmengine and mmcv (the core) and the optional
toolboxes mmdet, mmseg and mmpretrain (each only when it is installed) against
:data:`SUPPORTED_VERSIONS`; ``import smt_mm`` runs it.

The rest of smt_mm reaches torch APIs that appeared after torch 2.1 only through the helpers
here (:func:`is_compiling`, :func:`autocast_dtype`, :func:`grad_scaler`,
:func:`onnx_dynamo_exporter`, :func:`load_weights_only`). Each tests for the feature itself,
not for a version number, so that backports and nightly builds take the right branch.
"""

import _compat_pickle
import importlib
import pickle
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import IO, Any

import torch
from packaging.version import Version

#: Supported ``[min, max)`` version ranges, keyed by distribution name. torch: from 2.1, the
#: oldest stack CI tests (``make test-oldest``; the newest torch with OpenMMLab's prebuilt
#: mmcv 2.1.0 wheels) to the reference stack's 2.14 (docs/install.md). The pinned stacks are
#: ``requirements/constraints-oldest.txt`` and ``requirements/constraints.txt``.
SUPPORTED_VERSIONS: dict[str, tuple[str, str]] = {
    'torch': ('2.1.0', '2.15.0'),
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmdet': ('3.0.0', '3.4.0'),
    'mmsegmentation': ('1.0.0', '1.3.0'),
    'mmpretrain': ('1.0.0', '1.3.0'),
}

#: Distributions ``import smt_mm`` cannot work without.
CORE = ('torch', 'mmengine', 'mmcv')
#: Optional toolboxes: distribution name -> (import name, ``pip install smt_mm[extra]`` name).
TOOLBOXES: dict[str, tuple[str, str]] = {
    'mmdet': ('mmdet', 'det'),
    'mmsegmentation': ('mmseg', 'seg'),
    'mmpretrain': ('mmpretrain', 'cls'),
}

FIX_COMMAND = 'make venv  (reference env), or: pip install "{name}>={low},<{high}"'
#: torch comes as a build for the user's CUDA with a matching torchvision: pip must not pick it.
FIX_COMMANDS = {
    'torch': 'install a torch >={low},<{high} build for your CUDA (or CPU) together with '
    'its matching torchvision (docs/install.md), or make venv (reference env)',
    'mmcv': 'mim install "mmcv>={low},<{high}" (openmim picks the wheel built for your torch and '
    'CUDA), or '
    'pip install "mmcv-lite>={low},<{high}" for the backbone alone (docs/install.md)',
}


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
        if found is not None and _in_range(found, low, high):
            continue
        fix = FIX_COMMANDS.get(name, FIX_COMMAND).format(name=name, low=low, high=high)
        problems.append(
            f'  {name}: found {found or "nothing (not installed)"}, '
            f'supported >={low},<{high}; fix: {fix}'
        )
    if problems:
        raise StackVersionError(
            'smt_mm needs a supported OpenMMLab 2.x stack:\n' + '\n'.join(problems)
        )


def _in_range(found: str, low: str, high: str) -> bool:
    """``low <= found < high`` on the release number: ``2.1.0a0+git`` (NVIDIA's builds) is 2.1."""
    release = Version(Version(found).base_version)
    return Version(low) <= release < Version(high)


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
    names = [*SUPPORTED_VERSIONS]
    return ', '.join(f'{name} {installed_version(name)}' for name in names)


def _find_is_compiling() -> Callable[[], bool]:
    """``torch.compiler.is_compiling`` (torch >= 2.3), else dynamo's own (torch 2.1, 2.2)."""
    if hasattr(torch.compiler, 'is_compiling'):
        return torch.compiler.is_compiling
    from torch._dynamo import is_compiling

    return is_compiling


#: Whether ``torch.compile`` is tracing the code that calls it (False in eager mode). Resolved
#: once at import: ``torch.compile`` sees torch's own function and folds it to a constant.
is_compiling: Callable[[], bool] = _find_is_compiling()


#: torch >= 2.4 asks the autocast state by device type (``torch.get_autocast_dtype(device)``).
_AUTOCAST_BY_DEVICE = hasattr(torch, 'get_autocast_dtype')


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast casts to on ``device_type``, or None where autocast is off.

    torch >= 2.4 asks ``torch.is_autocast_enabled(device_type)``; older torch has one function
    per device (``is_autocast_cpu_enabled``, ``is_autocast_enabled`` for CUDA, ...).

    Args:
        device_type (str): ``'cpu'``, ``'cuda'``, ...

    Returns:
        torch.dtype | None: The autocast dtype, None when autocast is not enabled there (or
        this torch has no autocast for that device type).
    """
    if _AUTOCAST_BY_DEVICE:
        if not torch.is_autocast_enabled(device_type):
            return None
        return torch.get_autocast_dtype(device_type)
    if device_type == 'cuda':
        enabled, dtype = 'is_autocast_enabled', 'get_autocast_gpu_dtype'
    else:
        enabled, dtype = f'is_autocast_{device_type}_enabled', f'get_autocast_{device_type}_dtype'
    if not hasattr(torch, enabled) or not getattr(torch, enabled)():
        return None
    return getattr(torch, dtype)()


def grad_scaler(device_type: str, enabled: bool) -> Any:
    """A gradient scaler for mixed-precision training on ``device_type``.

    ``torch.amp.GradScaler(device)`` where torch has it (2.3+); before that
    ``torch.cuda.amp.GradScaler``, which is the only one and a no-op when disabled.

    Args:
        device_type (str): ``'cpu'``, ``'cuda'``, ...
        enabled (bool): Whether it scales; a disabled scaler passes the loss through.

    Returns:
        Any: The scaler (``scale``, ``step``, ``update``).

    Raises:
        RuntimeError: If scaling is asked for a device other than CUDA on a torch that has no
            ``torch.amp.GradScaler``.
    """
    amp_scaler = getattr(torch.amp, 'GradScaler', None)
    if amp_scaler is not None:
        return amp_scaler(device_type, enabled=enabled)
    if enabled and device_type != 'cuda':
        raise RuntimeError(
            f'torch {torch.__version__} scales gradients on CUDA only (torch.amp.GradScaler, '
            f'torch >= 2.3, scales on {device_type!r}): train in bf16 or fp32 there, or '
            'upgrade torch'
        )
    return torch.cuda.amp.GradScaler(enabled=enabled)


def onnx_export_takes(argument: str) -> bool:
    """Whether ``torch.onnx.export`` takes the keyword ``argument`` (e.g. ``'dynamo'``).

    Args:
        argument (str): The keyword.

    Returns:
        bool: True when this torch's ``torch.onnx.export`` has it.
    """
    import inspect

    return argument in inspect.signature(torch.onnx.export).parameters


def onnx_torchscript_max_opset() -> int:
    """The newest ONNX opset the TorchScript exporter of this torch writes (17 on torch 2.1).

    Returns:
        int: The opset; 10**6 (no limit) where torch does not state it.
    """
    from torch.onnx import _constants

    return getattr(_constants, 'ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET', 10**6)


#: The arguments of ``torch.onnx.export`` that the dynamo (``torch.export`` based) exporter needs.
DYNAMO_EXPORT_ARGS = ('dynamo', 'external_data', 'dynamic_shapes')


def onnx_dynamo_exporter() -> str | None:
    """Why the dynamo ONNX exporter cannot be used here, or None when it can.

    Returns:
        str | None: None when ``torch.onnx.export`` takes ``dynamo=``, ``external_data=`` and
        ``dynamic_shapes=`` (torch >= 2.5) and ``torch.export.Dim`` exists; otherwise the
        reason, naming what this torch lacks.
    """
    missing = [f'{name}=' for name in DYNAMO_EXPORT_ARGS if not onnx_export_takes(name)]
    if not hasattr(torch, 'export') or not hasattr(torch.export, 'Dim'):
        missing.append('torch.export.Dim')
    if not missing:
        return None
    return (
        f'torch {torch.__version__} has no dynamo ONNX exporter (torch.onnx.export lacks '
        f'{", ".join(missing)}; torch >= 2.5 has it)'
    )


# --- Weights-only checkpoint loading on every supported torch --------------------------------


def _global_name(obj: Any) -> str:
    """The ``module.name`` under which pickle refers to a class or function."""
    return f'{obj.__module__}.{obj.__qualname__}'


#: The pure-Python unpickler, whose opcodes can be overridden one by one (the C one's cannot).
_PyUnpickler: Any = pickle._Unpickler  # type: ignore[attr-defined]


class _AllowListUnpickler(_PyUnpickler):
    """The pure-Python unpickler restricted as torch's weights-only unpickler is.

    Only allow-listed globals are looked up; only allow-listed functions and classes are called
    or instantiated; only instances of allow-listed classes (and tensors, dicts) have their
    state set; items go only into lists and dicts. The protocol 0/1 instantiation opcodes
    (``INST``, ``OBJ``), which torch never writes, are refused.
    """

    allowed: dict[str, Any] = {}

    def find_class(self, module: str, name: str) -> Any:
        """Return an allow-listed global; refuse any other."""
        if self.proto < 3 and self.fix_imports:  # Python 2 names, as pickle maps them
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full_name = f'{module}.{name}'
        if full_name not in self.allowed:
            raise pickle.UnpicklingError(
                f'Weights only load failed: GLOBAL {full_name} was not an allowed global'
            )
        return self.allowed[full_name]

    def _check_call(self, func: Any, what: str) -> None:
        if not any(func is obj for obj in self.allowed.values()):
            raise pickle.UnpicklingError(
                f'Weights only load failed: refusing to {what} {func!r}, which is not allowed'
            )

    def _load_reduce(self) -> None:
        args = self.stack.pop()
        self._check_call(self.stack[-1], 'call')
        self.stack[-1] = self.stack[-1](*args)

    def _load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_call(cls, 'instantiate')
        self.append(cls.__new__(cls, *args))

    def _load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self._check_call(cls, 'instantiate')
        self.append(cls.__new__(cls, *args, **kwargs))

    def _load_build(self) -> None:
        inst = self.stack[-2]
        buildable = (torch.Tensor, torch.nn.Parameter, OrderedDict)
        if type(inst) not in buildable:
            self._check_call(type(inst), 'set the state of')
        _PyUnpickler.load_build(self)

    def _refuse_instantiation(self) -> None:
        raise pickle.UnpicklingError(
            'Weights only load failed: the protocol 0/1 instantiation opcodes are not allowed'
        )


def _only_into(kind: type, load: Callable, target_at: int | None) -> Callable:
    """Wrap an ``APPEND``/``SETITEM`` opcode so that it adds items to a ``kind`` only.

    ``target_at`` is where the target lies on the stack, None for the batch opcodes (the target
    lies under the mark).
    """

    def checked(self: _AllowListUnpickler) -> None:
        target = self.metastack[-1][-1] if target_at is None else self.stack[target_at]
        if not isinstance(target, kind):
            raise pickle.UnpicklingError(
                f'Weights only load failed: cannot add items to a {type(target).__name__}'
            )
        load(self)

    return checked


_BASE_DISPATCH = _PyUnpickler.dispatch
_AllowListUnpickler.dispatch = {
    **_BASE_DISPATCH,
    pickle.REDUCE[0]: _AllowListUnpickler._load_reduce,
    pickle.NEWOBJ[0]: _AllowListUnpickler._load_newobj,
    pickle.NEWOBJ_EX[0]: _AllowListUnpickler._load_newobj_ex,
    pickle.BUILD[0]: _AllowListUnpickler._load_build,
    pickle.INST[0]: _AllowListUnpickler._refuse_instantiation,
    pickle.OBJ[0]: _AllowListUnpickler._refuse_instantiation,
    **{
        code[0]: _only_into(kind, _BASE_DISPATCH[code[0]], target_at)
        for code, kind, target_at in (
            (pickle.APPEND, list, -2),
            (pickle.APPENDS, list, None),
            (pickle.SETITEM, dict, -3),
            (pickle.SETITEMS, dict, None),
        )
    },
}


#: What torch >= 2.5's weights-only unpickler allows besides what torch 2.1's does: the same
#: defaults on every torch. Rebuild functions a torch lacks are skipped.
_REBUILD_FUNCTIONS = (
    '_rebuild_parameter',
    '_rebuild_parameter_with_state',
    '_rebuild_qtensor',
    '_rebuild_tensor',
    '_rebuild_tensor_v2',
    '_rebuild_tensor_v3',
    '_rebuild_sparse_tensor',
    '_rebuild_meta_tensor_no_storage',
    '_rebuild_nested_tensor',
    '_rebuild_wrapper_subclass',
    '_rebuild_device_tensor_from_numpy',
    '_rebuild_device_tensor_from_cpu_tensor',
)


def _torch_default_globals() -> dict[str, Any]:
    """The globals torch >= 2.5 allows in a weights-only load, on this torch."""
    import codecs
    from collections import Counter

    from torch import _weights_only_unpickler

    named = {
        'collections.Counter': Counter,
        'torch.device': torch.device,
        '_codecs.encode': codecs.encode,  # bytes (numpy arrays)
        'builtins.bytearray': bytearray,
        'builtins.set': set,
        'builtins.complex': complex,
    }
    constants = [
        value for value in vars(torch).values() if isinstance(value, torch.dtype | torch.qscheme)
    ]
    rebuild = [getattr(torch._utils, name, None) for name in _REBUILD_FUNCTIONS]
    return {
        **_weights_only_unpickler._get_allowed_globals(),
        **named,
        **{str(value): value for value in constants},
        **{f'torch._utils.{func.__name__}': func for func in rebuild if func is not None},
    }


def _allow_list_pickle_module(extra_globals: Iterable[Any]) -> types.ModuleType:
    """A ``pickle_module`` for :func:`torch.load`: torch's weights-only globals and ours only.

    Allowed are the globals of torch >= 2.5's weights-only unpickler and ``extra_globals``.
    """
    allowed = {
        **_torch_default_globals(),
        **{_global_name(obj): obj for obj in extra_globals},
    }
    unpickler = type('Unpickler', (_AllowListUnpickler,), {'allowed': allowed})

    def load(file: IO[bytes], **kwargs: Any) -> Any:
        return unpickler(file, **kwargs).load()

    module = types.ModuleType('smt_mm_allow_list_pickle')
    module.Unpickler = unpickler  # type: ignore[attr-defined]
    module.load = load  # type: ignore[attr-defined]
    return module


def load_weights_only(path: str, map_location: Any, safe_globals: Iterable[Any]) -> Any:
    """``torch.load`` that unpickles tensors, containers and ``safe_globals`` only.

    Where torch has ``torch.serialization.safe_globals`` (2.5+), its weights-only unpickler
    runs with ``safe_globals`` allowed for this call. Older torch's weights-only unpickler
    cannot be extended (it builds tensors and dicts only), so there the file is unpickled by
    an unpickler restricted the same way (:class:`_AllowListUnpickler`): the same allow-list,
    nothing else looked up, called or built. Unrestricted unpickling is never used.

    Args:
        path (str): The checkpoint file.
        map_location (Any): Passed to :func:`torch.load`.
        safe_globals (Iterable): Classes and functions allowed besides torch's own.

    Returns:
        Any: The unpickled object.

    Raises:
        pickle.UnpicklingError: If the file refers to any other global; the message names it
            (``GLOBAL module.name was not an allowed global``).
    """
    safe_globals = list(safe_globals)
    scope = getattr(torch.serialization, 'safe_globals', None)
    if scope is not None:
        with scope(safe_globals):
            return torch.load(path, map_location=map_location, weights_only=True)
    module = _allow_list_pickle_module(safe_globals)
    return torch.load(path, map_location=map_location, pickle_module=module, weights_only=False)
