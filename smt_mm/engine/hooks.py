"""Hooks that the smt_mm configs add to the OpenMMLab runners."""

import logging
import os
import os.path as osp
from collections.abc import Iterator
from typing import cast

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch import nn

from ..models.checkpoint import check_state_dict, model_state_dict
from ..models.checkpoint.strict_load import WHOLE_MODEL_FIX
from .errors import RunError


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside its wrappers (DDP and the like, test-time augmentation).

    Args:
        model (nn.Module): The runner's model.

    Returns:
        nn.Module: The detector, segmentor or classifier a config builds.
    """
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = cast(nn.Module, model.module)
    return model


@HOOKS.register_module()
class SMTCheckpointHook(Hook):
    """Load official SMT classification files as they are, and every checkpoint strictly.

    mmengine's runner loads ``load_from`` (``tools/test.py CONFIG CHECKPOINT``, fine-tuning) and
    resumed checkpoints without checking that their keys fit the model: a file with other key
    names evaluates a randomly initialised model without an error. This hook runs on
    ``after_load_checkpoint``, before the weights reach the model, and

    * converts an official SMT release file (``smt_tiny.pth`` ..., keys ``patch_embed1.*``,
      ``block1.*``, ``head.*``, possibly under ``'model'``) to the layout of an mmpretrain
      ``ImageClassifier`` with :func:`~smt_mm.models.checkpoint.convert_official_smt`
      (``keep_head=True``), so that the official classifier is evaluated with its own head;
    * raises if the checkpoint's keys or shapes differ from the model's, naming them.

    Checkpoints written by mmengine (a ``'state_dict'`` entry) are only checked. On ``--resume``
    the check runs before the optimizer state is loaded, so a checkpoint of another model is
    refused with its keys instead of failing in the optimizer. ``tools/train.py`` adds the hook
    whenever it resumes or loads ``load_from`` (:func:`~smt_mm.apis.train_model`).

    Args:
        source (str): How messages name the checkpoint. Defaults to ``'The checkpoint'``.
        fix (str, optional): The advice after the counts; None gives
            :data:`~smt_mm.models.checkpoint.strict_load.WHOLE_MODEL_FIX`. Defaults to None.

    Example:
        >>> custom_hooks = [dict(type='SMTCheckpointHook')]  # in a classification config
    """

    priority = 'VERY_HIGH'

    def __init__(self, source: str = 'The checkpoint', fix: str | None = None) -> None:
        self.source = source
        self.fix = WHOLE_MODEL_FIX if fix is None else fix

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Convert an official file in place, then check it against the model.

        Args:
            runner (Runner): The runner that loads the checkpoint.
            checkpoint (dict): The loaded checkpoint; changed in place.

        Raises:
            ValueError: If a checkpoint without ``'state_dict'`` is not an SMT state dict.
            CheckpointMismatchError: If keys are missing or unexpected, or shapes differ; the
                message lists them.
        """
        checkpoint['state_dict'] = model_state_dict(checkpoint)
        model = unwrap_model(runner.model)
        check_state_dict(model, checkpoint['state_dict'], self.source, self.fix)


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
    parsed (:class:`~smt_mm.engine.CheckedCocoDataset`).

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
