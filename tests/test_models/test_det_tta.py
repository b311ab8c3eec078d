"""MaskDetTTAModel: views are un-flipped and merged with their masks."""

import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

from smt_mm.models.det_tta import MaskDetTTAModel

DetDataSample = pytest.importorskip('mmdet.structures').DetDataSample


class Detector(nn.Module):
    """Merging needs no real model, only one that has a ``test_step``."""

    def test_step(self, data):
        raise AssertionError('merge_preds must not run the model')


def test_mask_tta_merges_views_and_unflips():
    tta = MaskDetTTAModel(
        tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=10),
        module=Detector(),
    )

    def view(flip, boxes, scores):
        sample = DetDataSample(
            metainfo=dict(ori_shape=(20, 30), flip=flip, flip_direction='horizontal')
        )
        pred = InstanceData()
        pred.bboxes = torch.tensor(boxes, dtype=torch.float32)
        pred.scores = torch.tensor(scores)
        pred.labels = torch.zeros(len(boxes), dtype=torch.long)
        masks = torch.zeros(len(boxes), 20, 30, dtype=torch.bool)
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            masks[i, y1:y2, x1:x2] = True
        pred.masks = masks
        sample.pred_instances = pred
        return sample

    # the same object seen unflipped (score 0.6) and flipped (score 0.9): x 2..8 <-> 22..28
    merged = tta.merge_preds(
        [[view(False, [[2, 3, 8, 9]], [0.6]), view(True, [[22, 3, 28, 9]], [0.9])]]
    )
    pred = merged[0].pred_instances
    assert len(pred) == 1
    assert pred.scores.tolist() == pytest.approx([0.9])
    assert pred.bboxes.tolist() == [[2.0, 3.0, 8.0, 9.0]]
    assert pred.masks[0, 3:9, 2:8].all() and pred.masks[0].sum() == 36
