"""One test image of a detection or segmentation config, with the prediction and ground truth."""

import os
import os.path as osp
from collections.abc import Callable

import cv2
from mmengine.config import Config

from .detection import detection_sheet
from .panels import Sheet
from .segmentation import segmentation_sheet

#: The picture of each ``default_scope``: ``(cfg, checkpoint, index, device) -> Sheet``.
PICTURES: dict[str, Callable[[Config, str, int | None, str], Sheet]] = {
    'mmdet': detection_sheet,
    'mmseg': segmentation_sheet,
}


def example_sheet(
    cfg: Config, checkpoint: str, index: int | None = None, device: str = 'cpu'
) -> Sheet:
    """Draw one image of a config's test set with its ground truth and the model's prediction.

    mmdet configs: the ground truth and the predictions with a score of at least 0.3, masks
    tinted, boxes labelled with the class (and score). mmseg configs: the image, the ground
    truth and the prediction (ignored pixels white). Panels are enlarged to at least 512 px a
    side; a class legend and a caption (which image, how it was chosen) are below them.

    Args:
        cfg (Config): An mmdet or mmseg config (its ``test_dataloader.dataset`` is used).
        checkpoint (str): The checkpoint to load.
        index (int, optional): The dataset index of the image; None: the representative one,
            whose score (detection F1, segmentation mIoU) is the median of the test set.
            Defaults to None.
        device (str): The device to run the model on. Defaults to ``'cpu'``.

    Returns:
        Sheet: The picture and its layout.

    Raises:
        ValueError: If the config's ``default_scope`` is neither ``mmdet`` nor ``mmseg``.
    """
    scope = cfg.get('default_scope')
    if scope not in PICTURES:
        raise ValueError(f'no picture for default_scope {scope!r}; choose from {list(PICTURES)}')
    return PICTURES[scope](cfg, checkpoint, index, device)


def draw_example(
    cfg: Config, checkpoint: str, out_file: str, index: int | None = None, device: str = 'cpu'
) -> str:
    """Write the picture of :func:`example_sheet` to ``out_file`` (its folder is created).

    Args:
        cfg (Config): An mmdet or mmseg config.
        checkpoint (str): The checkpoint to load.
        out_file (str): The picture to write.
        index (int, optional): The dataset index of the image; None: the representative one.
            Defaults to None.
        device (str): The device to run the model on. Defaults to ``'cpu'``.

    Returns:
        str: ``out_file``.
    """
    sheet = example_sheet(cfg, checkpoint, index, device)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, sheet.image)
    return out_file
