"""Checks of a config before anything is built: ``--cfg-options`` keys and model widths.

``Config.merge_from_dict`` accepts any dotted key: a typo in a top-level key
(``train_cfgs.max_iters=2``) is added beside the real one and silently ignored, a misspelt
argument fails only when its object is first built (a hook's at the first checkpoint save).
:func:`check_cfg_options` rejects such keys up front, with a suggestion; it accepts every key
that the config already has or that the object it configures takes:

* a top-level key must be in the config or be one the runner reads;
* a new key inside a dict with a ``type`` must be an argument of that class or function
  (looked up in the config's registries, including the base classes an ``**kwargs`` forwards
  to); classes that take any ``**kwargs`` accept any key that is not a near-miss of a known one;
* a new key inside a dict without ``type`` is accepted unless it is a near-miss of a key of that
  dict (``difflib``, ratio >= 0.8).
"""

import difflib
import importlib
import inspect
from collections.abc import Iterable, Mapping

from mmengine.config import Config
from mmengine.registry import Registry


class ConfigCheckError(ValueError):
    """Raised when a config (or ``--cfg-options``) asks for something the run cannot do."""


#: Top-level keys the runners and tools read besides the config's own.
RUNNER_KEYS = frozenset(
    {
        'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
        'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
        'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
        'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
        'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg', 'compile',
        'find_unused_parameters', 'efficient_conv_bn_eval', 'activation_checkpointing',
        'strategy', 'runner_type', 'custom_imports', 'tta_model', 'tta_pipeline',
    }
)  # fmt: skip

#: Keys that builders take out of a dict before its ``type`` is built, by the dict's key.
_BUILDER_KEYS = {
    'optim_wrapper': {'constructor', 'paramwise_cfg'},
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
    'randomness': {'seed', 'diff_rank_seed', 'deterministic'},
    'mp_cfg': {'mp_start_method', 'opencv_num_threads'},
    'dist_cfg': {'backend', 'timeout', 'init_backend'},
    'train_cfg': {'by_epoch'},
}
_ALWAYS = {'type', '_scope_', '_delete_'}
_NEAR_MISS = 0.8
_ESCAPE = (
    ' (a key that is right but unknown to this check can be set in a config file that '
    'inherits this one)'
)


def _registries(scope: str | None) -> list[Registry]:
    """The registries of ``scope`` (``mmdet.registry`` ...) and mmengine's root ones."""
    modules = ['mmengine.registry']
    if scope and scope != 'mmengine':
        modules.insert(0, f'{scope}.registry')
    found = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found += [value for value in vars(module).values() if isinstance(value, Registry)]
    return found


def _resolve(type_: object, scope: str | None) -> list:
    """The classes or functions a ``type`` may name (several registries may know a name)."""
    if not isinstance(type_, str):
        return [type_] if callable(type_) else []
    found = []
    for registry in _registries(scope):
        try:
            obj = registry.get(type_)
        except Exception:  # noqa: BLE001 - a registry that cannot import its modules
            obj = None
        if obj is not None and obj not in found:
            found.append(obj)
    return found


def _parameters(func: object) -> tuple[set[str], bool]:
    """Named parameters of ``func`` and whether it also takes ``**kwargs``."""
    try:
        params = inspect.signature(func).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names - {'self'}, any(p.kind is p.VAR_KEYWORD for p in params)


def accepted_arguments(obj: object) -> tuple[set[str], bool]:
    """The keyword arguments a registered class or function takes.

    For a class, the ``__init__`` of each class in its MRO is read while the previous one takes
    ``**kwargs`` (which usually go to the base class).

    Args:
        obj (object): A class or function.

    Returns:
        tuple[set[str], bool]: The names, and whether any other name is accepted too (an
        ``**kwargs`` that reaches ``object`` or a function's ``**kwargs``).
    """
    if not inspect.isclass(obj):
        return _parameters(obj)
    names: set[str] = set()
    for klass in obj.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return names, True
        params, open_ = _parameters(init)
        names |= params
        if not open_:
            return names, False
    return names, True


def _close(key: str, candidates: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(key, sorted(candidates), n=3, cutoff=_NEAR_MISS)


def _check_new_key(option: str, parent: dict, path: list[str], key: str, scope: str | None) -> None:
    """Raise if ``key``, absent from ``parent`` (at ``path``), is not one it accepts."""
    where = '.'.join(path)
    if not path:
        if key in RUNNER_KEYS:
            return
        close = _close(key, set(parent) | RUNNER_KEYS)
        hint = f'; did you mean {" or ".join(map(repr, close))}?' if close else ''
        raise ConfigCheckError(
            f'--cfg-options {option}: {key!r} is neither a top-level key of the config nor one '
            f'the runner reads, so it would be ignored{hint}'
        )
    known = set(parent) | _ALWAYS | _BUILDER_KEYS.get(path[-1], set())
    if key in known:
        return
    closed = None
    if path[-1].endswith('_dataloader'):
        from torch.utils.data import DataLoader

        args, _ = accepted_arguments(DataLoader)
        known |= args | {'collate_fn', 'worker_init_fn'}
        closed = 'torch DataLoader'
    elif 'type' in parent:
        targets = _resolve(parent['type'], scope)
        if targets:
            accepts = [accepted_arguments(t) for t in targets]
            for names, _ in accepts:
                known |= names
            if not any(open_ for _, open_ in accepts):
                closed = ' / '.join(getattr(t, '__name__', str(t)) for t in targets)
    if key in known:
        return
    close = _close(key, known - _ALWAYS)
    hint = f' Did you mean {" or ".join(map(repr, close))}?' if close else ''
    if closed:
        raise ConfigCheckError(
            f'--cfg-options {option}: {where} builds {closed}, which takes no argument '
            f'{key!r}.{hint} Its arguments: {", ".join(sorted(known - _ALWAYS))}.'
        )
    if close:
        raise ConfigCheckError(
            f'--cfg-options {option}: {where} has no key {key!r}.{hint}{_ESCAPE}'
        )


def check_cfg_options(cfg: Config, options: Mapping) -> None:
    """Reject ``--cfg-options`` keys that the run would ignore or fail on later.

    Call it before merging the options into the config.

    Args:
        cfg (Config): The config as read from its file.
        options (Mapping): The dotted keys and values of ``--cfg-options``.

    Raises:
        ConfigCheckError: For the first unknown key, with the closest known ones.
    """
    scope = cfg.get('default_scope')
    for option_key in options:
        node: object = cfg._cfg_dict
        path: list[str] = []
        for part in option_key.split('.'):
            if isinstance(node, list | tuple):
                if not (part.isdigit() and int(part) < len(node)):
                    raise ConfigCheckError(
                        f'--cfg-options {option_key}: {".".join(path)} is a list of '
                        f'{len(node)} items; {part!r} is not an index of it'
                    )
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    _check_new_key(option_key, node, path, part, scope)
                    break
                node = node[part]
            else:  # a value (None, a number) replaced by a new dict: nothing to compare with
                break
            path.append(part)


def check_neck_channels(cfg: Config) -> None:
    """Fail when the neck or decode head expects other widths than an SMT backbone gives.

    Args:
        cfg (Config): The full config.

    Raises:
        ConfigCheckError: Naming the backbone's output channels and the neck's ``in_channels``.
    """
    from ..models.backbones.smt import SMT

    model = cfg.get('model') or {}
    backbone = model.get('backbone') or {}
    if backbone.get('type') not in ('SMT', 'mmpretrain.SMT'):
        return
    try:
        arch = SMT.parse_arch(backbone.get('arch', 'tiny'))
        indices = backbone.get('out_indices', (0, 1, 2, 3))
        indices = [indices] if isinstance(indices, int) else list(indices)
        widths = [arch['embed_dims'][i] for i in indices]
    except (KeyError, ValueError, IndexError, TypeError):
        return  # the backbone reports a bad arch or out_indices itself when built
    for key in ('neck', 'decode_head'):
        consumer = model.get(key)
        if isinstance(consumer, list):
            consumer = consumer[0] if consumer else None
        if not isinstance(consumer, dict) or 'in_channels' not in consumer:
            continue
        expected = consumer['in_channels']
        if isinstance(expected, list | tuple) and list(expected) != widths:
            raise ConfigCheckError(
                f'model.{key}.in_channels={list(expected)} does not match the SMT backbone '
                f'(arch {backbone.get("arch", "tiny")!r}, out_indices {tuple(indices)}), whose '
                f'outputs have {widths} channels: set --cfg-options '
                f'model.{key}.in_channels="{widths}" (or change out_indices)'
            )
