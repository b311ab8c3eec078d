"""Hooks that the smt_mm configs add to the OpenMMLab runners."""

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from ..models.checkpoint import check_state_dict, model_state_dict
from ..models.checkpoint.strict_load import WHOLE_MODEL_FIX
from ..utils.models import unwrap_model


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
