"""A ground truth | prediction picture of one image of a detection config's test set."""

import os

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from ..apis import build_model


def _ground_truth(data_info: dict, height: int, width: int) -> InstanceData:
    """The annotated instances of one dataset item, in original image coordinates."""
    from mmdet.structures.mask import PolygonMasks

    instances = [inst for inst in data_info['instances'] if not inst.get('ignore_flag', 0)]
    gt = InstanceData()
    boxes = [inst['bbox'] for inst in instances]
    gt.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    gt.labels = torch.tensor([inst['bbox_label'] for inst in instances], dtype=torch.long)
    if all('mask' in inst for inst in instances):
        polygons = [[np.asarray(p) for p in inst['mask']] for inst in instances]
        gt.masks = PolygonMasks(polygons, height, width)
    return gt


def detection_picture(
    cfg: Config, checkpoint: str, index: int, device: str, score_thr: float = 0.3
) -> np.ndarray:
    """Test image ``index`` drawn twice, BGR: ground truth (left), predictions >= ``score_thr``."""
    from mmdet.apis import inference_detector
    from mmdet.registry import DATASETS, VISUALIZERS

    model = build_model(cfg, checkpoint, device=device)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    data_info = dataset.get_data_info(index)
    image = mmcv.imread(data_info['img_path'], channel_order='rgb')
    result = inference_detector(model, data_info['img_path'])
    result.gt_instances = _ground_truth(data_info, *image.shape[:2])

    visualizer = VISUALIZERS.build(
        dict(type='DetLocalVisualizer', name=f'smt_mm_demo_{os.getpid()}_{id(result)}')
    )
    visualizer.dataset_meta = dataset.metainfo
    visualizer.add_datasample(
        'example', image, data_sample=result, show=False, pred_score_thr=score_thr
    )
    return visualizer.get_image()[..., ::-1]  # RGB -> BGR
