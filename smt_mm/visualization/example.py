"""One test image of a detection or segmentation config, with the prediction and ground truth."""

import os
import os.path as osp
from collections.abc import Callable

import cv2
import numpy as np
from mmengine.config import Config

from .detection import detection_picture
from .segmentation import segmentation_picture

#: The picture of each ``default_scope``: ``(cfg, checkpoint, index, device) -> BGR image``.
PICTURES: dict[str, Callable[[Config, str, int, str], np.ndarray]] = {
    'mmdet': detection_picture,
    'mmseg': segmentation_picture,
}


def draw_example(
    cfg: Config, checkpoint: str, out_file: str, index: int = 0, device: str = 'cpu'
) -> str:
    """Draw one image of a config's test set with the model's prediction and its ground truth.

    mmdet configs: the ground truth (left) and the predictions with a score of at least 0.3
    (right). mmseg configs: the image, the prediction and the ground truth (ignored pixels white).

    Args:
        cfg (Config): An mmdet or mmseg config (its ``test_dataloader.dataset`` is used).
        checkpoint (str): The checkpoint to load.
        out_file (str): The picture to write (its folder is created).
        index (int): The dataset index of the image. Defaults to 0.
        device (str): The device to run the model on. Defaults to ``'cpu'``.

    Returns:
        str: ``out_file``.

    Raises:
        ValueError: If the config's ``default_scope`` is neither ``mmdet`` nor ``mmseg``.
    """
    scope = cfg.get('default_scope')
    if scope not in PICTURES:
        raise ValueError(f'no picture for default_scope {scope!r}; choose from {list(PICTURES)}')
    picture = PICTURES[scope](cfg, checkpoint, index, device)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, picture)
    return out_file
