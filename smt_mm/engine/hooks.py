"""Hooks that the smt_mm configs add to the OpenMMLab runners."""

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from ..models.checkpoint import check_state_dict, model_state_dict
from .errors import RunError


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

    Checkpoints written by mmengine (a ``'state_dict'`` entry) are only checked.

    Example:
        >>> custom_hooks = [dict(type='SMTCheckpointHook')]  # in a classification config
    """

    priority = 'VERY_HIGH'

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
        model = runner.model
        if is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        check_state_dict(model, checkpoint['state_dict'])


@HOOKS.register_module()
class TrainDataCheckHook(Hook):
    """Check the training data the model is about to learn from.

    * Before training: warns when a detection dataset (mmdet, ``instances`` per image) holds no
      annotated object at all (e.g. a COCO file with an empty ``annotations`` list): the model
      would learn background only, and the test would report -1.
    * Before each iteration: a segmentation label map (mmseg, ``gt_sem_seg``) with values that
      are neither a class nor the ignore index fails with the file's name (the loss would fail
      later with an index error naming no file, or on CUDA with a device-side assert).

    ``tools/train.py`` adds it to every run; with a toolbox's own ``tools/train.py`` add
    ``custom_hooks = [dict(type='TrainDataCheckHook')]`` to the config.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner: Runner) -> None:
        """Warn when the training set has images but no annotated object."""
        dataset = runner.train_dataloader.dataset
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
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
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
