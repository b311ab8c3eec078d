"""What differs between the toolboxes that ``tools/train.py`` and ``tools/test.py`` drive.

A config's ``default_scope`` (``'mmdet'``, ``'mmseg'`` or ``'mmpretrain'``) decides how
``--show-dir`` reaches the visualisation hook and what ``--out`` writes; everything else is the
same mmengine ``Runner`` for all three, as in each toolbox's own ``tools/test.py``.
"""

import os
import time

from mmengine.config import Config, ConfigDict

#: ``(toolbox's visualiser, smt_mm's)``: smt_mm's draws the pictures of ``--show``/``--show-dir``
#: as titled, enlarged panels with a class legend (``smt_mm.visualization.visualizers``,
#: registered when smt_mm is imported). mmpretrain keeps its own, drawn at
#: :data:`CLASSIFICATION_SHOW_SIZE`.
VISUALIZERS: dict[str, tuple[str, str]] = {
    'mmdet': ('DetLocalVisualizer', 'SMTDetLocalVisualizer'),
    'mmseg': ('SegLocalVisualizer', 'SMTSegLocalVisualizer'),
}

#: The short side (pixels) mmpretrain's pictures are enlarged to before their text is drawn, unless
#: the config's hook sets ``resize``: ``smt_mm.visualization.panels.MIN_PANEL``, legible text.
CLASSIFICATION_SHOW_SIZE = 512

#: The toolboxes a config may name in ``default_scope``.
SUPPORTED_SCOPES: tuple[str, ...] = ('mmdet', 'mmseg', 'mmpretrain')


def get_scope(cfg: Config) -> str:
    """Return the toolbox that a config targets.

    Args:
        cfg (Config): The config.

    Returns:
        str: One of :data:`SUPPORTED_SCOPES`.

    Raises:
        ValueError: If ``default_scope`` is missing or not supported.
    """
    scope = cfg.get('default_scope')
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(
            f'default_scope={scope!r} is not supported; a config must set default_scope to one '
            f'of {SUPPORTED_SCOPES} (the mmdet/mmseg/mmpretrain _base_ runtimes do)'
        )
    return scope


def enable_visualization(
    cfg: Config, show_dir: str | None = None, show: bool = False, wait_time: float = 2.0
) -> None:
    """Make the scope's visualisation hook draw test predictions, with a visualiser of its own.

    mmdet and mmseg configs whose ``visualizer`` is the toolbox's own draw them with smt_mm's
    (:data:`VISUALIZERS`; the other settings stay); a config's other visualiser and
    mmpretrain's are kept, mmpretrain's drawing on images enlarged to
    :data:`CLASSIFICATION_SHOW_SIZE` unless the hook sets ``resize``.

    Args:
        cfg (Config): The config, changed in place.
        show_dir (str, optional): Where the pictures go. mmdet and mmpretrain write them under
            ``<work_dir>/<timestamp>/<show_dir>``, mmseg under ``<work_dir>/<show_dir>``.
            Defaults to None.
        show (bool): Show each picture in a window. Defaults to False.
        wait_time (float): Seconds each shown picture stays. Defaults to 2.0.

    Raises:
        RuntimeError: If the config has no ``default_hooks.visualization``.
    """
    scope = get_scope(cfg)
    hooks = cfg.get('default_hooks') or {}
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show/--show-dir need a visualization hook in default_hooks '
            f'(e.g. the {scope} _base_/default_runtime.py one)'
        )
    hook = hooks['visualization']
    visualizer = cfg.get('visualizer')
    if visualizer is not None:
        # mmengine keeps one visualiser per name in a process and hands a later runner of the
        # same name the first one, settings and all: a test run after another run in this
        # process would write its pictures to the first run's folder
        visualizer['name'] = f'visualizer_{os.getpid()}_{time.monotonic_ns()}'
    if scope in VISUALIZERS and visualizer is not None:
        toolbox_own, ours = VISUALIZERS[scope]
        if visualizer.get('type') in (toolbox_own, f'{scope}.{toolbox_own}'):
            visualizer['type'] = ours
    if scope == 'mmdet':
        hook.update(draw=True, show=show, wait_time=wait_time)
        if show_dir:
            hook['test_out_dir'] = show_dir
    elif scope == 'mmseg':
        hook.update(draw=True, show=show, wait_time=wait_time)
        if show_dir:
            cfg.visualizer['save_dir'] = show_dir
    else:
        hook.update(enable=True, show=show, wait_time=wait_time)
        hook.setdefault('resize', CLASSIFICATION_SHOW_SIZE)
        if show_dir:
            hook['out_dir'] = show_dir


def apply_tta(cfg: Config) -> None:
    """Wrap the model in the config's test-time-augmentation model and use its pipeline.

    As the toolboxes' own ``tools/test.py``: ``model = dict(**tta_model, module=model)`` and the
    test dataset's pipeline becomes ``tta_pipeline``.

    Args:
        cfg (Config): The config, changed in place.

    Raises:
        KeyError: If the config defines no ``tta_model`` or no ``tta_pipeline``.
    """
    missing = [key for key in ('tta_model', 'tta_pipeline') if key not in cfg]
    if missing:
        raise KeyError(f'--tta needs {" and ".join(missing)} in the config')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def add_dump_results(cfg: Config, out: str) -> None:
    """Make the test loop also save its raw predictions, the way the scope's test.py does.

    mmdet and mmpretrain dump a pickle file (``.pkl``); mmseg writes prediction PNGs into the
    folder ``out``.

    Args:
        cfg (Config): The config, changed in place.
        out (str): The pickle file (mmdet, mmpretrain) or the folder (mmseg).

    Raises:
        ValueError: If an mmdet/mmpretrain ``out`` does not end in ``.pkl`` or ``.pickle``.
    """
    scope = get_scope(cfg)
    if scope == 'mmseg':
        evaluator = cfg.test_evaluator
        for item in evaluator if isinstance(evaluator, list) else [evaluator]:
            item.update(output_dir=out, keep_results=True)
        return
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl or .pickle file for {scope}, got {out!r}')
    dump = dict(type='DumpDetResults' if scope == 'mmdet' else 'DumpResults', out_file_path=out)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, list):
        evaluator.append(dump)
    else:
        cfg.test_evaluator = [evaluator, dump]
