"""CheckedIoUMetric: same numbers as IoUMetric, and a bad label map is reported by file name."""

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.evaluation import IoUMetric

from smt_mm.evaluation import CheckedIoUMetric

CLASSES = ('background', 'circle', 'square')


def sample(label: torch.Tensor, pred: torch.Tensor, path: str = 'ann/0001.png') -> dict:
    return dict(
        gt_sem_seg=dict(data=label[None]),
        pred_sem_seg=dict(data=pred[None]),
        seg_map_path=path,
        reduce_zero_label=True,
        img_path=path.replace('.png', '.jpg'),
    )


def evaluate(metric, samples: list) -> dict:
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_same_numbers_as_iou_metric():
    generator = torch.Generator().manual_seed(0)
    label = torch.randint(0, 3, (16, 16), generator=generator)
    label[0] = 255
    pred = torch.randint(0, 3, (16, 16), generator=generator)
    checked = evaluate(CheckedIoUMetric(), [sample(label, pred)])
    plain = evaluate(IoUMetric(), [sample(label, pred)])
    assert checked == plain and 0 < checked['mIoU'] < 100


def test_out_of_range_label_names_the_file():
    label = torch.zeros(8, 8, dtype=torch.long)
    label[:2, :2] = 7  # 4 pixels of a class that does not exist
    pred = torch.zeros(8, 8, dtype=torch.long)
    # the plain metric returns a number without a word ...
    assert 'mIoU' in evaluate(IoUMetric(), [sample(label, pred)])
    # ... the checked one refuses, with the file, the value and its pixel count
    with pytest.raises(ValueError, match=r'data/ann/bad\.png .*3 classes.*7 \(4 px\)') as err:
        evaluate(CheckedIoUMetric(), [sample(label, pred, 'data/ann/bad.png')])
    assert 'reduce_zero_label' in str(err.value)


def test_ignore_index_and_negative_values():
    label = torch.full((4, 4), 255, dtype=torch.long)
    label[0, 0] = 2
    assert 'mIoU' in evaluate(CheckedIoUMetric(), [sample(label, label.clamp(max=2))])
    label[1, 1] = -1
    with pytest.raises(ValueError, match=r'-1 \(1 px\)'):
        evaluate(CheckedIoUMetric(), [sample(label, label.clamp(0, 2))])


def test_registered_for_configs():
    from mmseg.registry import METRICS

    init_default_scope('mmseg')
    metric = METRICS.build(dict(type='CheckedIoUMetric', iou_metrics=['mIoU']))
    assert isinstance(metric, CheckedIoUMetric)
