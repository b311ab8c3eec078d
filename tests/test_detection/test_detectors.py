"""Every detector of the paper runs `loss` and `predict` on CPU with SMT-T; empty images train."""

import pytest
import torch

from . import build, make_batch

# config -> the losses its detector reports (one name per family is enough)
MASK_RCNN_LOSSES = ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask')
DETECTORS = {
    **dict.fromkeys(
        ['mask_rcnn_smt_t_toy.py', 'mask_rcnn_smt_s_1x.py', 'mask_rcnn_smt_b_1x.py'],
        MASK_RCNN_LOSSES,
    ),
    'cascade_mask_rcnn_smt_s_3x.py': ('loss_rpn_cls', 's0.loss_bbox', 's2.loss_mask'),
    'retinanet_smt_s_3x.py': ('loss_cls', 'loss_bbox'),
    'atss_smt_s_3x.py': ('loss_cls', 'loss_bbox', 'loss_centerness'),
    'sparse_rcnn_smt_s_3x.py': ('s0.loss_cls', 's5.loss_iou'),
    'dino_4scale_smt_s_12e.py': ('loss_cls', 'd0.loss_bbox', 'dn_loss_iou', 'enc_loss_cls'),
}

# Fewer RoIs for the cascade's three 4-conv heads and Sparse R-CNN's six stages (the CPU time is
# theirs), fewer DINO queries (at most one per feature-map position: 256 on a 96x128 image).
CASCADE_ROIS = {
    'model.train_cfg.rpn_proposal.max_per_img': 200,
    'model.test_cfg.rpn.max_per_img': 100,
    **{f'model.train_cfg.rcnn.{stage}.sampler.num': 64 for stage in range(3)},
}
CFG_OPTIONS = {
    'cascade_mask_rcnn_smt_s_3x.py': CASCADE_ROIS,
    'sparse_rcnn_smt_s_3x.py': {'model.rpn_head.num_proposals': 50},
    'dino_4scale_smt_s_12e.py': {'model.num_queries': 100},
}


@pytest.mark.parametrize('config', DETECTORS)
def test_loss_and_predict_on_cpu(config):
    # SMT-T has SMT-S's stage widths: the heads and necks are the shipped ones
    model = build(config, CFG_OPTIONS.get(config), arch='tiny')
    model.train()
    size = (96, 128)
    batch = make_batch(model, [size], [[[10, 12, 60, 70], [70, 20, 120, 90]]])
    losses = model(**batch, mode='loss')
    assert set(DETECTORS[config]) <= set(losses)
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
        results = model(**make_batch(model, [size], [[]]), mode='predict')
    pred = results[0].pred_instances
    assert pred.bboxes.ndim == 2 and pred.bboxes.shape[1] == 4
    assert len(pred.scores) == len(pred.labels) == len(pred.bboxes)
    if 'mask' in config:
        assert pred.masks.shape[1:] == size


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
