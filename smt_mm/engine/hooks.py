"""Hooks that the smt_mm configs add to the OpenMMLab runners."""

import re

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from ..models.utils import convert_official_smt

# mmengine strips this from checkpoint keys before loading them into the model.
_MODULE_PREFIX = re.compile(r'^module\.')


@HOOKS.register_module()
class SMTCheckpointHook(Hook):
    """Load official SMT classification files as they are, and every checkpoint strictly.

    mmengine's runner loads ``load_from`` (``tools/test.py CONFIG CHECKPOINT``, fine-tuning) and
    resumed checkpoints without checking that their keys fit the model: a file with other key
    names evaluates a randomly initialised model without an error. This hook runs on
    ``after_load_checkpoint``, before the weights reach the model, and

    * converts an official SMT release file (``smt_tiny.pth`` ..., keys ``patch_embed1.*``,
      ``block1.*``, ``head.*``, possibly under ``'model'``) to the layout of an mmpretrain
      ``ImageClassifier`` with :func:`~smt_mm.models.utils.convert_official_smt`
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
            KeyError: If keys are missing or unexpected, or shapes differ; the message lists
                them.
        """
        if 'state_dict' not in checkpoint:
            checkpoint['state_dict'] = convert_official_smt(checkpoint, keep_head=True)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_state_dict(model, checkpoint['state_dict'])


def check_state_dict(model: torch.nn.Module, state_dict: dict) -> None:
    """Check that a state dict fits a model exactly (keys and shapes).

    Args:
        model (torch.nn.Module): The model.
        state_dict (dict): The state dict; keys may carry DDP's ``module.`` prefix.

    Raises:
        KeyError: If keys are missing or unexpected, or shapes differ; the message lists them.
    """
    expected = model.state_dict()
    given = {_MODULE_PREFIX.sub('', k): v for k, v in state_dict.items()}
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    mismatched = [
        f'{k}: checkpoint {tuple(given[k].shape)}, model {tuple(v.shape)}'
        for k, v in expected.items()
        if k in given and tuple(given[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        raise KeyError(
            f'The checkpoint does not fit the model: {len(missing)} missing, '
            f'{len(unexpected)} unexpected keys, {len(mismatched)} shape mismatches. To start '
            'only the backbone from a checkpoint, use model.backbone.init_cfg=dict(type='
            "'Pretrained', checkpoint=PATH, prefix='backbone.') instead of load_from.\n"
            f'missing keys: {missing}\nunexpected keys: {unexpected}\n'
            f'shape mismatches: {mismatched}'
        )
