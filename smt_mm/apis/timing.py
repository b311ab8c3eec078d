"""Wall time of one training iteration of a detector config on synthetic data."""

import time
from collections.abc import Callable
from typing import cast

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope


def _synthetic_batch(
    model: torch.nn.Module, batch_size: int, height: int, width: int, num_boxes: int
) -> dict:
    """A preprocessed batch of random images, each with ``num_boxes`` box + mask annotations."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    generator = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, height, width), generator=generator).byte())
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(height, width),
                ori_shape=(height, width),
                pad_shape=(height, width),
                scale_factor=(1.0, 1.0),
            )
        )
        xy = torch.rand(num_boxes, 2, generator=generator) * torch.tensor([width, height]) * 0.7
        wh = (0.05 + 0.25 * torch.rand(num_boxes, 2, generator=generator)) * min(height, width)
        boxes = torch.cat([xy, xy + wh], dim=1)
        masks = torch.zeros(num_boxes, height, width, dtype=torch.uint8)
        for i, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[i, y1:y2, x1:x2] = 1
        gt = InstanceData(bboxes=boxes, labels=torch.zeros(num_boxes, dtype=torch.long))
        gt.masks = BitmapMasks(masks.numpy(), height, width)
        sample.gt_instances = gt
        samples.append(sample)
    preprocess = cast(Callable[..., dict], model.data_preprocessor)
    return preprocess(dict(inputs=inputs, data_samples=samples), training=True)


def time_train_iterations(
    config: str,
    height: int = 800,
    width: int = 1333,
    batch_size: int = 1,
    iters: int = 3,
    warmup: int = 1,
    num_boxes: int = 8,
) -> list[float]:
    """Time full training iterations (forward, loss, backward, optimizer step) on random data.

    The model is built from the config with the backbone's ``init_cfg`` switched off (weights do
    not change the cost) and trained with the config's optimizer wrapper, on the CPU, or the
    GPU when one is available.

    Args:
        config (str): An mmdet config file.
        height (int): Image height. Defaults to 800.
        width (int): Image width. Defaults to 1333.
        batch_size (int): Images per iteration. Defaults to 1.
        iters (int): Timed iterations. Defaults to 3.
        warmup (int): Untimed iterations first. Defaults to 1.
        num_boxes (int): Ground-truth objects per image. Defaults to 8.

    Returns:
        list[float]: Seconds of each timed iteration.
    """
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = MODELS.build(cfg.model).to(device).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = _synthetic_batch(model, batch_size, height, width, num_boxes)
    times = []
    for step in range(warmup + iters):
        if device == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        losses = model(**batch, mode='loss')
        total, _ = model.parse_losses(losses)
        optim_wrapper.update_params(total)
        if device == 'cuda':
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return times
