"""Start-up checks: every local file a config needs must exist before anything is built.

A missing checkpoint or dataset otherwise surfaces minutes later, deep inside a dataset or an
``init_weights`` call, without the config key that fixes it. :func:`check_config_paths` reports
every missing path at once, each with the ``--cfg-options`` key that overrides it.
"""

import os.path as osp
from collections.abc import Iterator

from mmengine.config import Config

#: Dataset wrappers that hold their datasets under these keys.
_WRAPPED_KEYS = ('dataset', 'datasets')
_REMOTE_PREFIXES = ('http://', 'https://', 's3://', 'open-mmlab://', 'torchvision://', 'mmcls://')


class ConfigPathError(FileNotFoundError):
    """Raised when files or folders named by a config do not exist.

    Args:
        missing (list[tuple[str, str, str]]): ``(config_key, path, what)`` of every missing path.
    """

    def __init__(self, missing: list[tuple[str, str, str]]):
        self.missing = missing
        lines = [f'  {what} not found: {path}\n      {_hint(key)}' for key, path, what in missing]
        super().__init__('the config names paths that do not exist:\n' + '\n'.join(lines))


def _hint(key: str) -> str:
    if key == 'load_from':
        return (
            'pass an existing file (the CHECKPOINT argument of test.py, --resume of train.py, '
            'or --cfg-options load_from=...)'
        )
    return f'override with --cfg-options {key}=...'


def _is_remote(path: str) -> bool:
    return path.startswith(_REMOTE_PREFIXES)


def _iter_pretrained(node: object, key: str) -> Iterator[tuple[str, str]]:
    """Yield ``(config_key, checkpoint)`` of every ``Pretrained`` init_cfg below ``node``."""
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained' and isinstance(node.get('checkpoint'), str):
            yield f'{key}.checkpoint', node['checkpoint']
        for name, value in node.items():
            yield from _iter_pretrained(value, f'{key}.{name}')
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _iter_pretrained(value, f'{key}.{index}')


def _join(root: str | None, path: str) -> str:
    return osp.join(root, path) if root and not osp.isabs(path) else path


def _iter_dataset_paths(dataset: dict, key: str) -> Iterator[tuple[str, str, str]]:
    """Yield ``(config_key, path, what)`` of the local paths a dataset config reads."""
    for wrapped in _WRAPPED_KEYS:
        inner = dataset.get(wrapped)
        if isinstance(inner, dict):
            yield from _iter_dataset_paths(inner, f'{key}.{wrapped}')
        elif isinstance(inner, list | tuple):
            for index, item in enumerate(inner):
                if isinstance(item, dict):
                    yield from _iter_dataset_paths(item, f'{key}.{wrapped}.{index}')
    data_root = dataset.get('data_root')
    if isinstance(data_root, str) and data_root and not _is_remote(data_root):
        yield f'{key}.data_root', data_root, 'dataset root'
        if not osp.isdir(data_root):
            return  # the root is reported; its children would only repeat it
    ann_file = dataset.get('ann_file')
    if isinstance(ann_file, str) and ann_file:
        yield f'{key}.ann_file', _join(data_root, ann_file), 'annotation file'
    prefixes = dataset.get('data_prefix')
    if isinstance(prefixes, dict):
        for name, prefix in prefixes.items():
            if isinstance(prefix, str) and prefix and not _is_remote(prefix):
                what = 'data folder'
                yield f'{key}.data_prefix.{name}', _join(data_root, prefix), what


def collect_config_paths(cfg: Config, mode: str) -> list[tuple[str, str, str]]:
    """List the local paths a run reads, each with the config key that sets it.

    Args:
        cfg (Config): The full config, after ``--cfg-options`` were merged.
        mode (str): ``'train'`` (training data, validation data when a validation loop is
            configured, pretrained checkpoints, ``load_from``) or ``'test'`` (test data,
            ``load_from``).

    Returns:
        list[tuple[str, str, str]]: ``(config_key, path, what)`` for every local path.

    Raises:
        ValueError: If ``mode`` is neither ``'train'`` nor ``'test'``.
    """
    if mode not in ('train', 'test'):
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
    paths: list[tuple[str, str, str]] = []
    if mode == 'train':
        for key, checkpoint in _iter_pretrained(cfg.get('model'), 'model'):
            if not _is_remote(checkpoint):
                paths.append((key, checkpoint, 'pretrained checkpoint'))
        stages = ['train']
        if cfg.get('val_cfg') and cfg.get('val_dataloader'):
            stages.append('val')
    else:
        stages = ['test']
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and not _is_remote(load_from):
        paths.append(('load_from', load_from, 'checkpoint'))
    for stage in stages:
        loader = cfg.get(f'{stage}_dataloader')
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            paths.extend(_iter_dataset_paths(loader['dataset'], f'{stage}_dataloader.dataset'))
        evaluators = cfg.get(f'{stage}_evaluator')
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for index, evaluator in enumerate(evaluators or []):
            ann_file = evaluator.get('ann_file') if isinstance(evaluator, dict) else None
            if isinstance(ann_file, str) and ann_file and not _is_remote(ann_file):
                key = f'{stage}_evaluator.ann_file'
                if len(evaluators) > 1:
                    key = f'{stage}_evaluator.{index}.ann_file'
                paths.append((key, ann_file, 'evaluation annotation file'))
    return paths


def check_config_paths(cfg: Config, mode: str) -> None:
    """Fail early, naming the key to override, when a path the run needs does not exist.

    Args:
        cfg (Config): The full config, after ``--cfg-options`` were merged.
        mode (str): ``'train'`` or ``'test'``, see :func:`collect_config_paths`.

    Raises:
        ConfigPathError: If any path is missing; the message lists each one with its key.
    """
    missing = [
        (key, path, what)
        for key, path, what in collect_config_paths(cfg, mode)
        if not osp.exists(path)
    ]
    if missing:
        raise ConfigPathError(missing)
