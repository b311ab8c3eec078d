"""Each SMT Mask R-CNN runs `loss` and `predict` on CPU; empty images train."""

import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import InstanceData

ROOT = REPO_ROOT
CONFIG_DIR = osp.join(ROOT, 'configs', 'detection')


def build(config: str):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    # no backbone weights; no stochastic depth, so that every block receives a gradient
    cfg.model.backbone.update(init_cfg=None, drop_path_rate=0.0)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def make_batch(model, sizes, boxes_per_image):
    """A data-preprocessed batch of random images with box + mask annotations."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks

    inputs, samples = [], []
    for (height, width), boxes in zip(sizes, boxes_per_image, strict=True):
        inputs.append(torch.randint(0, 255, (3, height, width), dtype=torch.uint8))
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(height, width),
                ori_shape=(height, width),
                scale_factor=(1.0, 1.0),
                pad_shape=(height, width),
            )
        )
        gt = InstanceData()
        gt.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        gt.labels = torch.zeros(len(boxes), dtype=torch.long)
        masks = torch.zeros(len(boxes), height, width, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes):
            masks[i, int(y1) : int(y2), int(x1) : int(x2)] = 1
        gt.masks = BitmapMasks(masks.numpy(), height, width)
        sample.gt_instances = gt
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)


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
