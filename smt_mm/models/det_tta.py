"""Test-time augmentation for instance segmentation (boxes *and* masks).

mmdet 3.x's ``DetTTAModel`` merges boxes only and refuses predictions with masks, so
``tools/test.py --tta`` could not evaluate Mask R-CNN. :class:`MaskDetTTAModel` merges the views
the same way (un-flip, concatenate, class-wise NMS) and keeps, for every surviving box, the mask
predicted together with it, un-flipped as well.
"""

import torch
from mmengine.model import BaseTTAModel
from mmengine.registry import MODELS
from mmengine.structures import InstanceData
from torch import Tensor

_MASK_FLIP_DIMS = {'horizontal': (-1,), 'vertical': (-2,), 'diagonal': (-2, -1)}


def _flip_boxes(boxes: Tensor, height: int, width: int, direction: str) -> Tensor:
    """Mirror ``(x1, y1, x2, y2)`` boxes inside a ``height`` x ``width`` image."""
    flipped = boxes.clone()
    if direction in ('horizontal', 'diagonal'):
        flipped[:, 0::4] = width - boxes[:, 2::4]
        flipped[:, 2::4] = width - boxes[:, 0::4]
    if direction in ('vertical', 'diagonal'):
        flipped[:, 1::4] = height - boxes[:, 3::4]
        flipped[:, 3::4] = height - boxes[:, 1::4]
    return flipped


@MODELS.register_module()
class MaskDetTTAModel(BaseTTAModel):
    """Merge the predictions of augmented views of an image, with instance masks.

    Every view's boxes and masks are mapped back to the original image (the detector already
    rescales them; flips are undone here), all views are concatenated and class-wise NMS keeps
    the best ``max_per_img`` detections with their masks. Predictions without masks merge
    exactly like mmdet's ``DetTTAModel``.

    Args:
        tta_cfg (dict): ``nms`` (an mmcv ``batched_nms`` config, e.g.
            ``dict(type='nms', iou_threshold=0.5)``) and ``max_per_img``.
        **kwargs: ``module`` (the detector) and ``data_preprocessor``, as for
            :class:`mmengine.model.BaseTTAModel`.

    Example:
        >>> tta_model = dict(
        ...     type='MaskDetTTAModel',
        ...     tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
    """

    def __init__(self, tta_cfg: dict, **kwargs):
        super().__init__(**kwargs)
        self.tta_cfg = tta_cfg

    def merge_preds(self, data_samples_list: list[list]) -> list:
        """Merge the views of every image of a batch.

        Args:
            data_samples_list (list[list[DetDataSample]]): Per image, the predictions of all
                its views.

        Returns:
            list[DetDataSample]: One merged prediction per image.
        """
        return [self._merge_single_sample(samples) for samples in data_samples_list]

    def _merge_single_sample(self, data_samples: list):
        boxes, scores, labels, masks = [], [], [], []
        with_masks = data_samples[0].pred_instances.get('masks') is not None
        for sample in data_samples:
            pred = sample.pred_instances
            height, width = sample.metainfo['ori_shape'][:2]
            sample_boxes, sample_masks = pred.bboxes, pred.get('masks')
            if sample.metainfo.get('flip', False):
                direction = sample.metainfo['flip_direction']
                sample_boxes = _flip_boxes(sample_boxes, height, width, direction)
                if with_masks:
                    sample_masks = sample_masks.flip(_MASK_FLIP_DIMS[direction])
            boxes.append(sample_boxes)
            scores.append(pred.scores)
            labels.append(pred.labels)
            if with_masks:
                masks.append(sample_masks)
        from mmcv.ops import batched_nms  # compiled ops: imported when a TTA model runs

        merged = data_samples[0]
        all_boxes = torch.cat(boxes)
        if all_boxes.numel() == 0:
            return merged
        all_labels = torch.cat(labels)
        dets, keep = batched_nms(all_boxes, torch.cat(scores), all_labels, self.tta_cfg['nms'])
        max_per_img = self.tta_cfg['max_per_img']
        dets, keep = dets[:max_per_img], keep[:max_per_img]
        results = InstanceData()
        results.bboxes = dets[:, :-1]
        results.scores = dets[:, -1]
        results.labels = all_labels[keep]
        if with_masks:
            results.masks = torch.cat(masks)[keep]
        merged.pred_instances = results
        return merged
