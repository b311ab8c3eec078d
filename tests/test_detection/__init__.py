"""Detection tests: shared helpers that build a shipped detector and a tiny annotated batch."""

import os.path as osp

import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import InstanceData

CONFIG_DIR = osp.join(REPO_ROOT, 'configs', 'detection')


def build(config: str, cfg_options: dict | None = None, **backbone):
    """Build a shipped detector on CPU, with ``backbone`` settings (e.g. ``arch='tiny'``) over it.

    No backbone weights, no stochastic depth (so that every block receives a gradient), and
    BN instead of SyncBN (one process). ``cfg_options`` as ``--cfg-options`` (list indices allowed).
    """
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    cfg.merge_from_dict(cfg_options or {}, allow_list_keys=True)
    cfg.model.backbone.update(init_cfg=None, drop_path_rate=0.0, **backbone)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
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
