"""Helpers for the models the toolboxes build (no smt_mm model code)."""

from typing import cast

from mmengine.model import BaseTTAModel, is_model_wrapper
from torch import nn


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
