"""An image | prediction | ground truth picture of one image of a segmentation config's test set."""

import numpy as np
from mmengine.config import Config

from ..apis import build_model


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


def segmentation_picture(cfg: Config, checkpoint: str, index: int, device: str) -> np.ndarray:
    """Test image ``index``, its prediction and its ground truth side by side, BGR.

    The ground truth is the dataset's label map after its own loading (``reduce_zero_label``
    included); ignored pixels are white.
    """
    from mmseg.apis import inference_model
    from mmseg.registry import DATASETS

    model = build_model(cfg, checkpoint, device=device)
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    dataset = DATASETS.build(dataset_cfg)
    item = dataset[index]
    palette = dataset.metainfo['palette']

    result = inference_model(model, item['img_path'])
    prediction = result.pred_sem_seg.data[0].cpu().numpy()

    pictures = [item['img'], colorize(prediction, palette), colorize(item['gt_seg_map'], palette)]
    return np.concatenate(pictures, axis=1)
