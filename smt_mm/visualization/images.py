"""Images for the visualisers: folders expanded, images normalised by the model's preprocessor."""

import os
import os.path as osp
from collections.abc import Sequence
from typing import cast

import mmcv
import numpy as np
import torch
from torch import nn

from ..models.utils import check_input

#: The image files a folder argument contributes.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


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
        model (nn.Module): A model built by :func:`~smt_mm.apis.build_model`.
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
    check_input(batch)  # where the data enters: too small is an error, NaN / Inf a warning
    return image[..., ::-1].copy(), batch
