"""Semantic-segmentation metrics that the smt_mm configs use."""

from collections.abc import Sequence

import torch
from mmengine.registry import METRICS
from mmseg.evaluation import IoUMetric


@METRICS.register_module()
class CheckedIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` that refuses label maps with values outside the class range.

    ``IoUMetric`` counts pixels per class with ``torch.histc`` over ``[0, num_classes)``: a
    ground-truth value that is neither a class index nor ``ignore_index`` (a label map of
    another dataset, a colour PNG, a forgotten or extra ``reduce_zero_label``) drops out of the
    label counts while its prediction still counts, so the mIoU comes out wrong without a word.
    This metric computes exactly the same numbers, but first checks every ground-truth map and
    raises with the file name. Its arguments are those of ``IoUMetric``; the number of classes
    is the length of the dataset's ``classes``.

    Example:
        >>> val_evaluator = dict(type='CheckedIoUMetric', iou_metrics=['mIoU'])  # in a config
    """

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Check the ground truth of a batch, then accumulate it as ``IoUMetric`` does.

        Args:
            data_batch (dict): A batch of data from the dataloader.
            data_samples (Sequence[dict]): The model's outputs with their ground truth.

        Raises:
            ValueError: If a ground-truth map holds values outside ``[0, num_classes)`` other
                than ``ignore_index``; the message names the file, the values and their pixel
                counts.
        """
        if not self.format_only:
            num_classes = len(self.dataset_meta['classes'])
            for data_sample in data_samples:
                self._check_labels(data_sample, num_classes)
        super().process(data_batch, data_samples)

    def _check_labels(self, data_sample: dict, num_classes: int) -> None:
        label = data_sample['gt_sem_seg']['data']
        invalid = ((label < 0) | (label >= num_classes)) & (label != self.ignore_index)
        if not invalid.any():
            return
        values, counts = torch.unique(label[invalid], return_counts=True)
        pairs = zip(values.tolist(), counts.tolist(), strict=True)
        found = ', '.join(f'{value} ({count} px)' for value, count in pairs)
        hint = ''
        if data_sample.get('reduce_zero_label'):
            hint = ' (reduce_zero_label=True: the file holds these values + 1)'
        path = data_sample.get('seg_map_path', '<unknown file>')
        raise ValueError(
            f'label map {path} has values outside the {num_classes} classes '
            f'[0, {num_classes - 1}] and the ignore index {self.ignore_index}: {found}{hint}. '
            'The mIoU would be silently wrong; fix the file, or the dataset config (classes, '
            'reduce_zero_label) if it does not describe the data.'
        )
