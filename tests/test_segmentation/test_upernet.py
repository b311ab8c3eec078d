"""Each SMT UPerNet of the configs runs ``loss`` and ``predict`` on CPU, as configured."""

import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

ROOT = REPO_ROOT
CONFIGS = {
    'tiny': 'upernet_smt_t_toy.py',
    'small': 'upernet_smt_s_512x512_160k_ade20k.py',
    'base': 'upernet_smt_b_512x512_160k_ade20k.py',
}


def build_segmentor(arch: str):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'segmentation', CONFIGS[arch]))
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmseg')
    return MODELS.build(cfg.model), cfg.model.decode_head.num_classes


def make_samples(num_classes: int, batch: int, height: int, width: int) -> list:
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(batch):
        label = torch.randint(0, num_classes, (1, height, width), generator=generator)
        label[:, :2] = 255  # some ignored pixels
        shape = (height, width)
        sample = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return samples


@pytest.mark.parametrize('arch', list(CONFIGS))
def test_loss_and_predict(arch):
    torch.manual_seed(0)
    model, num_classes = build_segmentor(arch)
    height, width = 64, 96
    inputs = torch.randn(2, 3, height, width)
    samples = make_samples(num_classes, 2, height, width)

    # a single CPU process with the configs' SyncBN heads, as mmengine's runner would leave it
    model.train()
    losses = model.loss(inputs, samples)
    assert set(losses) >= {'decode.loss_ce', 'aux.loss_ce'}
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

    model.eval()
    with torch.no_grad():
        results = model.predict(inputs, make_samples(num_classes, 2, height, width))
    assert len(results) == 2
    for result in results:
        assert result.pred_sem_seg.data.shape == (1, height, width)
        assert result.seg_logits.data.shape == (num_classes, height, width)
        assert int(result.pred_sem_seg.data.max()) < num_classes
