"""Checks of the data a model is about to learn from: classes, label maps, objects, labels."""

import logging
import os
import os.path as osp
from collections.abc import Iterator

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch import nn

from ..utils.errors import RunError
from ..utils.models import unwrap_model

#: Where the heads of mmdet, mmseg and mmpretrain models keep their number of classes (the
#: RPN's single "object" class is not a dataset class).
HEAD_PATHS = (
    'bbox_head',
    'roi_head.bbox_head',
    'roi_head.mask_head',
    'decode_head',
    'auxiliary_head',
    'head',
)


def _heads(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The ``(config key, head)`` pairs of :data:`HEAD_PATHS` that the model has."""
    for path in HEAD_PATHS:
        module: object = model
        for name in path.split('.'):
            module = getattr(module, name, None)
        if isinstance(module, nn.ModuleList | list | tuple):  # cascade stages, several aux heads
            for i, head in enumerate(module):
                yield f'model.{path}[{i}]', head
        elif isinstance(module, nn.Module):
            yield f'model.{path}', module


def check_num_classes(
    model: nn.Module, dataset: object, dataset_key: str = 'train_dataloader.dataset'
) -> None:
    """Check that every head of the model predicts as many classes as the dataset names.

    A detector whose head has more classes than the data trains and saves without a word and
    then fails in the evaluation with an ``IndexError``; one with fewer mixes labels.

    Args:
        model (nn.Module): The model (not wrapped).
        dataset (object): The dataset; its ``metainfo['classes']`` counts. Datasets without
            classes are not checked.
        dataset_key (str): The config key of the dataset, for the message. Defaults to
            ``'train_dataloader.dataset'``.

    Raises:
        RunError: If a head's ``num_classes`` differs from the number of classes; the message
            names both numbers, the config keys and the fix.
    """
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if not classes:
        return
    wrong = [
        (key, head.num_classes)
        for key, head in _heads(model)
        if isinstance(getattr(head, 'num_classes', None), int) and head.num_classes != len(classes)
    ]
    if not wrong:
        return
    found = ', '.join(f'{key}.num_classes={value}' for key, value in wrong)
    options = ' '.join(f'{key}.num_classes={len(classes)}' for key, _ in wrong)
    raise RunError(
        f'the model and the data disagree on the number of classes: {dataset_key} has '
        f'{len(classes)} classes ({dataset_key}.metainfo.classes: {list(classes)[:10]}'
        f'{" ..." if len(classes) > 10 else ""}) but {found}. Set the heads to '
        f'{len(classes)} classes (--cfg-options {options}, or num_classes in the config), or '
        f'name the classes of the data in {dataset_key}.metainfo.classes.'
    )


def check_label_files(dataset: object) -> None:
    """Check that every image of a segmentation dataset has its label map, and count strays.

    mmseg lists the images (``img_suffix`` in ``data_prefix.img_path``) and expects the label
    map of each (``seg_map_suffix`` in ``data_prefix.seg_map_path``) without checking it: a
    missing one fails in the middle of training, and label maps whose image is missing or has
    another suffix are left out without a word. Reads file metadata and directory listings,
    never the files.

    Args:
        dataset (object): An mmseg dataset (items with ``seg_map_path``); others are skipped.

    Raises:
        RunError: If label maps are missing; the message counts them and names the first ones.
    """
    get_data_info = getattr(dataset, 'get_data_info', None)
    if get_data_info is None:
        return
    size = len(dataset)  # type: ignore[arg-type]
    maps = [get_data_info(i).get('seg_map_path') for i in range(size)]
    local = [m for m in maps if isinstance(m, str) and '://' not in m]
    if not local:
        return
    missing = [m for m in local if not osp.isfile(m)]
    if missing:
        raise RunError(
            f'{len(missing)} of the {len(local)} images of the training set have no label map, '
            f'e.g. {missing[:3]}. Check data_prefix.seg_map_path and seg_map_suffix of '
            'train_dataloader.dataset (and img_suffix: the label map of image NAME.jpg is '
            'NAME + seg_map_suffix).'
        )
    folders = {osp.dirname(m) for m in local}
    suffix = getattr(dataset, 'seg_map_suffix', '.png')
    listed = {osp.join(d, f) for d in folders for f in os.listdir(d) if f.endswith(suffix)}
    strays = sorted(listed - set(local))
    if strays:
        print_log(
            f'{len(strays)} label maps have no image in the training set and are not used, '
            f'e.g. {strays[:3]}: check img_suffix ({getattr(dataset, "img_suffix", "?")}) and '
            'data_prefix.img_path of train_dataloader.dataset.',
            logger='current',
            level=logging.WARNING,
        )


@HOOKS.register_module()
class TrainDataCheckHook(Hook):
    """Check the training data the model is about to learn from.

    * Before training: the heads' ``num_classes`` must equal the number of dataset classes
      (:func:`check_num_classes`); every image of a segmentation dataset (mmseg,
      ``seg_map_path`` per image) must have its label map (:func:`check_label_files`); a
      detection dataset (mmdet, ``instances`` per image) that holds no annotated object at all
      (e.g. a COCO file with an empty ``annotations`` list) is warned about: the model would
      learn background only, and the test would report -1.
    * Before each iteration: a segmentation label map (mmseg, ``gt_sem_seg``) with values that
      are neither a class nor the ignore index fails with the file's name (the loss would fail
      later with an index error naming no file, or on CUDA with a device-side assert).

    Annotations that a COCO file holds and the dataset drops are counted where the file is
    parsed (:class:`~smt_mm.datasets.CheckedCocoDataset`).

    ``tools/train.py`` adds it to every run; with a toolbox's own ``tools/train.py`` add
    ``custom_hooks = [dict(type='TrainDataCheckHook')]`` to the config.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner: Runner) -> None:
        """Check the classes and label maps; warn when the training set has no object.

        Raises:
            RunError: If the classes of the model and the data differ, or label maps are
                missing.
        """
        dataset = runner.train_dataloader.dataset
        check_num_classes(unwrap_model(runner.model), dataset)
        check_label_files(dataset)
        if not hasattr(dataset, 'get_data_info') or len(dataset) == 0:
            return
        if 'instances' not in dataset.get_data_info(0):
            return
        for index in range(len(dataset)):
            if dataset.get_data_info(index)['instances']:
                return
        print_log(
            f'the training set has {len(dataset)} images and not one annotated object '
            f'(ann_file: {getattr(dataset, "ann_file", "?")}): the model can only learn '
            'background. Check the annotation file (an empty "annotations" list?) and the '
            'dataset classes (metainfo.classes must name the categories of the file).',
            logger='current',
            level=30,
        )

    def before_train_iter(
        self, runner: Runner, batch_idx: int, data_batch: dict | None = None
    ) -> None:
        """Fail on segmentation labels outside the classes, naming the label file."""
        if not isinstance(data_batch, dict):
            return
        samples = data_batch.get('data_samples') or []
        if not samples or not hasattr(samples[0], 'gt_sem_seg'):
            return
        model = unwrap_model(runner.model)
        head = getattr(model, 'decode_head', None)
        num_classes = getattr(head, 'num_classes', None)
        if num_classes is None:
            return
        ignore_index = getattr(head, 'ignore_index', 255)
        for sample in samples:
            labels = sample.gt_sem_seg.data
            bad = ((labels < 0) | (labels >= num_classes)) & (labels != ignore_index)
            if bad.any():
                values = sorted({int(v) for v in labels[bad].unique()[:10]})
                raise RunError(
                    f'label map {sample.metainfo.get("seg_map_path", "?")} has values {values} '
                    f'outside the {num_classes} classes (0-{num_classes - 1}) and the ignore '
                    f'index {ignore_index}. Check reduce_zero_label (on when value 0 means '
                    '"unlabelled"), the number of classes (model.decode_head.num_classes) and '
                    'that the label maps are single-channel class indices, not colour images.'
                )
