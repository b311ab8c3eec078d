"""A ground truth | prediction picture of one image of a detection config's test set."""

import os.path as osp

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from ..apis import build_model
from .panels import Sheet, blend, compose, draw_objects, median_index, upscale

#: A prediction matches a ground-truth object of its class at this box IoU or more.
MATCH_IOU = 0.5


def _ground_truth(data_info: dict, height: int, width: int) -> InstanceData:
    """The annotated instances of one dataset item, in original image coordinates."""
    from mmdet.structures.mask import PolygonMasks

    instances = [inst for inst in data_info['instances'] if not inst.get('ignore_flag', 0)]
    gt = InstanceData()
    boxes = [inst['bbox'] for inst in instances]
    gt.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    gt.labels = torch.tensor([inst['bbox_label'] for inst in instances], dtype=torch.long)
    if instances and all('mask' in inst for inst in instances):
        polygons = [[np.asarray(p) for p in inst['mask']] for inst in instances]
        gt.masks = PolygonMasks(polygons, height, width)
    return gt


def detection_f1(pred: InstanceData, gt: InstanceData, iou_thr: float = MATCH_IOU) -> float:
    """F1 of one image's predictions: each matches at most one ground-truth object.

    Predictions are taken in descending score order; each matches the unmatched ground-truth
    object of its class with the highest box IoU, if that IoU is at least ``iou_thr``.

    Args:
        pred (InstanceData): ``bboxes``, ``labels`` and ``scores`` (already thresholded).
        gt (InstanceData): ``bboxes`` and ``labels``.
        iou_thr (float): Defaults to :data:`MATCH_IOU`.

    Returns:
        float: ``2 * matches / (predictions + objects)``; 1.0 when both are empty.
    """
    from mmdet.structures.bbox import bbox_overlaps

    total = len(pred) + len(gt)
    if total == 0:
        return 1.0
    if len(pred) == 0 or len(gt) == 0:
        return 0.0
    ious = bbox_overlaps(pred.bboxes.float(), gt.bboxes.float())
    ious[pred.labels[:, None] != gt.labels[None, :]] = -1
    taken = torch.zeros(len(gt), dtype=torch.bool)
    matches = 0
    for k in torch.argsort(pred.scores, descending=True).tolist():
        candidates = ious[k].masked_fill(taken, -1)
        best = int(candidates.argmax())
        if candidates[best] >= iou_thr:
            taken[best] = True
            matches += 1
    return 2 * matches / total


def draw_instances(
    image: np.ndarray, instances: InstanceData, texts: list[str], palette: list
) -> tuple[np.ndarray, list]:
    """Draw instances on an upscaled copy of an image: masks tinted, boxes outlined, labelled.

    Args:
        image (np.ndarray): ``(H, W, 3)`` ``uint8`` image, in the channel order of ``palette``.
        instances (InstanceData): ``bboxes`` and ``labels`` in image pixels, ``masks``
            (mmdet's mask structures or an ``(N, H', W')`` tensor, resized to the image) if any.
        texts (list[str]): The label of each instance.
        palette (list): A colour per class.

    Returns:
        tuple[np.ndarray, list]: The panel (at least :data:`~.panels.MIN_PANEL` px a side) and
        its labels (:func:`~.panels.draw_objects`).
    """
    panel, factor = upscale(image)
    panel = panel.copy()
    colors = [palette[int(label)] for label in instances.labels]
    if 'masks' in instances and len(instances):
        masks = instances.masks
        masks = masks.to_ndarray() if hasattr(masks, 'to_ndarray') else masks.cpu().numpy()
        size = (panel.shape[1], panel.shape[0])
        for mask, color in zip(masks.astype(np.uint8), colors, strict=True):
            blend(panel, cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST) > 0, color)
    boxes = instances.bboxes.cpu().numpy().reshape(-1, 4) * factor
    return panel, draw_objects(panel, boxes, texts, colors)


def detection_sheet(
    cfg: Config,
    checkpoint: str,
    index: int | None,
    device: str,
    score_thr: float = 0.3,
) -> Sheet:
    """Draw a test image's ground truth (left) and the predictions with a score >= ``score_thr``.

    Args:
        cfg (Config): An mmdet config (its ``test_dataloader.dataset``).
        checkpoint (str): The checkpoint to load.
        index (int, optional): The dataset index of the image; None: the representative image,
            the one whose :func:`detection_f1` is the median of the images with objects (every
            test image is predicted to find it).
        device (str): The device to run the model on.
        score_thr (float): The smallest score drawn. Defaults to 0.3.

    Returns:
        Sheet: The picture, class legend below, and a caption that says which image it is and
        how it was chosen.

    Raises:
        ValueError: If ``index`` is None and no test image has an object.
    """
    from mmdet.apis import inference_detector
    from mmdet.registry import DATASETS

    model = build_model(cfg, checkpoint, device=device)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = dataset.metainfo['classes']
    palette = [tuple(color[::-1]) for color in dataset.metainfo['palette']]  # RGB -> BGR

    def predict(k: int) -> tuple[dict, InstanceData, InstanceData]:
        info = dataset.get_data_info(k)
        result = inference_detector(model, info['img_path'])
        pred = result.pred_instances
        pred = pred[pred.scores >= score_thr].cpu()
        return info, pred, _ground_truth(info, info['height'], info['width'])

    rule = (
        f'a prediction counts when its score is >= {score_thr:.2f} and its box overlaps an '
        f'object of its class with IoU >= {MATCH_IOU}'
    )
    if index is None:
        f1s, items = {}, {}
        for k in range(len(dataset)):
            info, pred, gt = predict(k)
            if len(gt):  # an empty image shows nothing
                f1s[k], items[k] = detection_f1(pred, gt), (info, pred, gt)
        if not f1s:
            raise ValueError(
                f'none of the {len(dataset)} test images has an object; pass the index of one '
                'to draw it anyway'
            )
        index = median_index(f1s)
        info, pred, gt = items[index]
        caption = (
            f'{osp.basename(info["img_path"])}: F1 {f1s[index]:.2f}, the median of the '
            f'{len(f1s)} test images with objects ({rule}).'
        )
    else:
        info, pred, gt = predict(index)
        caption = f'{osp.basename(info["img_path"])} (test image {index}): F1 '
        caption += f'{detection_f1(pred, gt):.2f} ({rule}).'
    image = mmcv.imread(info['img_path'])  # BGR
    truth, truth_labels = draw_instances(
        image, gt, [classes[int(label)] for label in gt.labels], palette
    )
    texts = [f'{classes[int(lb)]} {s:.2f}' for lb, s in zip(pred.labels, pred.scores, strict=True)]
    predicted, predicted_labels = draw_instances(image, pred, texts, palette)
    return compose(
        [('ground truth', truth), (f'prediction (score >= {score_thr:.2f})', predicted)],
        legend=list(zip(classes, palette, strict=False)),
        caption=caption,
        labels=[truth_labels, predicted_labels],
    )
