"""An image | prediction | ground truth picture of one image of a segmentation config's test set."""

import os
import os.path as osp

import cv2
import numpy as np
from mmengine.config import Config


def colorize(label_map: np.ndarray, palette: list, ignore_index: int = 255) -> np.ndarray:
    """Paint a label map with a class palette.

    Args:
        label_map (np.ndarray): int (H, W) class indices.
        palette (list): One RGB triple per class.
        ignore_index (int): Pixels with this value are painted white. Defaults to 255.

    Returns:
        np.ndarray: uint8 (H, W, 3) BGR picture.
    """
    colors = np.array([c[::-1] for c in palette], np.uint8)  # RGB -> BGR
    picture = np.full((*label_map.shape, 3), 255, np.uint8)
    valid = (label_map >= 0) & (label_map < len(colors)) & (label_map != ignore_index)
    picture[valid] = colors[label_map[valid]]
    return picture


def draw_segmentation_example(
    config: str | Config,
    checkpoint: str,
    out_file: str,
    index: int = 0,
    device: str = 'cpu',
) -> str:
    """Draw one test image, the model's prediction and the ground truth side by side.

    The ground truth is the dataset's label map after its own loading (``reduce_zero_label``
    included); ignored pixels are white.

    Args:
        config (str | Config): An mmseg config (its ``test_dataloader.dataset`` is used).
        checkpoint (str): The checkpoint to load.
        out_file (str): The picture to write (its folder is created).
        index (int): The dataset index of the image. Defaults to 0.
        device (str): The device to run the model on. Defaults to ``'cpu'``.

    Returns:
        str: ``out_file``.
    """
    from mmengine.registry import init_default_scope
    from mmseg.apis import inference_model, init_model
    from mmseg.registry import DATASETS

    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    init_default_scope('mmseg')
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    dataset = DATASETS.build(dataset_cfg)
    item = dataset[index]
    palette = dataset.metainfo['palette']

    model = init_model(cfg, checkpoint, device=device)
    result = inference_model(model, item['img_path'])
    prediction = result.pred_sem_seg.data[0].cpu().numpy()

    image = item['img']
    pictures = [image, colorize(prediction, palette), colorize(item['gt_seg_map'], palette)]
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cv2.imwrite(out_file, np.concatenate(pictures, axis=1))
    return out_file
