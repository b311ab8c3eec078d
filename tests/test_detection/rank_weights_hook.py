"""A hook for the distributed test: every rank saves its final weights (imported by config)."""

import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SaveRankWeightsHook(Hook):
    """Save ``rank<N>_weights.pth`` into the work dir after training, on every rank."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        path = osp.join(runner.work_dir, f'rank{get_rank()}_weights.pth')
        torch.save(model.state_dict(), path)
