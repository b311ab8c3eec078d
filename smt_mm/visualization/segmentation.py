"""An image | ground truth | prediction picture of one image of a segmentation config's test set."""

import os.path as osp

import numpy as np
from mmengine.config import Config

from ..apis import build_model
from .panels import Sheet, compose, median_index, upscale

#: The colour (BGR) of pixels without a class: ignored in the ground truth.
IGNORED_COLOR = (255, 255, 255)


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
    picture = np.full((*label_map.shape, 3), IGNORED_COLOR, np.uint8)
    valid = (label_map >= 0) & (label_map < len(colors)) & (label_map != ignore_index)
    picture[valid] = colors[label_map[valid]]
    return picture


def image_miou(prediction: np.ndarray, truth: np.ndarray, ignore_index: int = 255) -> float:
    """Mean IoU of one image over the classes in its ground truth or its prediction.

    Pixels whose ground truth is ``ignore_index`` do not count.

    Returns:
        float: The mean IoU in [0, 1]; 1.0 for an image whose pixels are all ignored.
    """
    valid = truth != ignore_index
    prediction, truth = prediction[valid], truth[valid]
    ious = [
        np.sum((prediction == c) & (truth == c)) / np.sum((prediction == c) | (truth == c))
        for c in np.union1d(np.unique(prediction), np.unique(truth))
    ]
    return float(np.mean(ious)) if ious else 1.0


def segmentation_sheet(cfg: Config, checkpoint: str, index: int | None, device: str) -> Sheet:
    """Draw a test image, its ground truth and the prediction, with a class legend.

    The ground truth is the dataset's label map after its own loading (``reduce_zero_label``
    included); ignored pixels are white.

    Args:
        cfg (Config): An mmseg config (its ``test_dataloader.dataset``).
        checkpoint (str): The checkpoint to load.
        index (int, optional): The dataset index of the image; None: the representative image,
            the one whose :func:`image_miou` is the median of the test set (every test image is
            predicted to find it).
        device (str): The device to run the model on.

    Returns:
        Sheet: The picture and a caption that says which image it is and how it was chosen.
    """
    from mmseg.apis import inference_model
    from mmseg.registry import DATASETS

    model = build_model(cfg, checkpoint, device=device)
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    dataset = DATASETS.build(dataset_cfg)
    classes, palette = dataset.metainfo['classes'], dataset.metainfo['palette']
    ignore_index = dataset.ignore_index

    def predict(k: int) -> tuple[dict, np.ndarray, float]:
        item = dataset[k]
        prediction = inference_model(model, item['img_path']).pred_sem_seg.data[0].cpu().numpy()
        return item, prediction, image_miou(prediction, item['gt_seg_map'], ignore_index)

    if index is None:
        scored = {k: predict(k) for k in range(len(dataset))}
        index = median_index({k: miou for k, (_, _, miou) in scored.items()})
        item, prediction, miou = scored[index]
        how = f'the median of the {len(scored)} test images'
    else:
        item, prediction, miou = predict(index)
        how = f'test image {index}'
    caption = (
        f'{osp.basename(item["img_path"])}: mIoU {100 * miou:.1f}% over the classes in its '
        f'ground truth or prediction, {how}.'
    )
    truth = item['gt_seg_map']
    legend = [(name, tuple(color[::-1])) for name, color in zip(classes, palette, strict=False)]
    if np.any(truth == ignore_index):
        legend.append(('ignored', IGNORED_COLOR))
    panels = [
        ('image', upscale(item['img'])[0]),
        ('ground truth', upscale(colorize(truth, palette, ignore_index))[0]),
        ('prediction', upscale(colorize(prediction, palette, ignore_index))[0]),
    ]
    return compose(panels, legend=legend, caption=caption)
