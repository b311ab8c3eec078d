"""A model of any smt_mm config with its weights, and images prepared as its test pipeline would."""

import os
import os.path as osp
from collections.abc import Sequence
from typing import cast

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import CheckpointLoader
from torch import nn

from ..apis.scopes import get_scope
from ..engine.hooks import check_state_dict
from ..models.utils import convert_official_smt

#: The image files a folder argument contributes.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def load_model(cfg: Config, checkpoint: str | None = None) -> nn.Module:
    """Build a config's model in eval mode on the CPU and load its weights strictly.

    Args:
        cfg (Config): An mmdet, mmseg or mmpretrain config (SyncBN becomes BN).
        checkpoint (str, optional): A checkpoint written by mmengine (whole model, keys checked
            strictly) or an official SMT classification file (converted, as
            :class:`~smt_mm.engine.SMTCheckpointHook` does). None: the weights that the
            config's ``init_cfg`` gives (random, or a backbone's ``Pretrained`` file).
            Defaults to None.

    Returns:
        nn.Module: The model, in eval mode.

    Raises:
        FileNotFoundError: If a local checkpoint does not exist.
        KeyError: If the checkpoint's keys or shapes do not fit the model.
    """
    init_default_scope(get_scope(cfg))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:  # mmpretrain keeps it at the top level
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    if checkpoint is None:
        model.init_weights()
    else:
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        state_dict = loaded.get('state_dict') or convert_official_smt(loaded, keep_head=True)
        check_state_dict(model, state_dict)
        model.load_state_dict({k.removeprefix('module.'): v for k, v in state_dict.items()})
    return model.eval()


def list_images(paths: Sequence[str]) -> list[str]:
    """Expand image files and folders (their images, sorted) into a list of image files.

    Raises:
        FileNotFoundError: If a path does not exist or a folder holds no image.
    """
    files = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(
                osp.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(IMAGE_SUFFIXES)
            )
            if not found:
                raise FileNotFoundError(f'no image ({", ".join(IMAGE_SUFFIXES)}) in {path}')
            files += found
        elif osp.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f'image not found: {path}')
    return files


def prepare_image(
    model: nn.Module, path: str, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, torch.Tensor]:
    """Read an image, resize it and normalise it with the model's own data preprocessor.

    Args:
        model (nn.Module): A model built by :func:`load_model`.
        path (str): The image file.
        size (tuple[int, int], optional): ``(height, width)`` to resize to; None keeps the
            image's size. Defaults to None.

    Returns:
        tuple: The RGB image as resized (uint8 ``(h, w, 3)``) and the model's input
        ``(1, 3, H, W)`` (padded where the preprocessor pads, e.g. mmdet's to a multiple of 32).
    """
    image = mmcv.imread(path, channel_order='bgr')
    if image is None:
        raise ValueError(f'cannot read {path} as an image')
    if size is not None:
        image = mmcv.imresize(image, (size[1], size[0]))
    inputs = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    with torch.no_grad():
        preprocessor = cast(nn.Module, model.data_preprocessor)
        batch = preprocessor({'inputs': [inputs]}, False)['inputs']
    return image[..., ::-1].copy(), batch
