"""Each SMT Mask R-CNN runs `loss` and `predict` on CPU; empty images train."""

import pytest
import torch

from . import build, make_batch


@pytest.mark.parametrize(
    'config', ['mask_rcnn_smt_t_toy.py', 'mask_rcnn_smt_s_1x.py', 'mask_rcnn_smt_b_1x.py']
)
def test_loss_and_predict_on_cpu(config):
    model = build(config)
    model.train()
    batch = make_batch(model, [(96, 128)], [[[10, 12, 60, 70], [70, 20, 120, 90]]])
    losses = model(**batch, mode='loss')
    for name in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'):
        assert name in losses
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    no_grad = [
        name
        for name, p in model.backbone.named_parameters()
        if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not no_grad

    model.eval()
    with torch.no_grad():
        batch = make_batch(model, [(96, 128)], [[]])
        results = model(**batch, mode='predict')
    pred = results[0].pred_instances
    assert pred.bboxes.shape[1] == 4
    assert pred.masks.shape[1:] == (96, 128)
    assert len(pred.scores) == len(pred.labels) == len(pred.masks)


def test_image_without_annotations_trains():
    model = build('mask_rcnn_smt_t_toy.py')
    model.train()
    batch = make_batch(model, [(64, 64), (64, 64)], [[], [[8, 8, 40, 40]]])
    total, _ = model.parse_losses(model(**batch, mode='loss'))
    assert torch.isfinite(total)
    total.backward()
    only_empty = make_batch(model, [(64, 64)], [[]])
    total, log = model.parse_losses(model(**only_empty, mode='loss'))
    assert torch.isfinite(total)
    assert log['loss_mask'] == 0  # nothing to segment, nothing to learn there
