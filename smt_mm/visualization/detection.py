"""A ground truth | prediction picture of one image of a detection config's test set."""

import os
import os.path as osp

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData


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


def draw_detection_example(
    config: str | Config,
    checkpoint: str,
    out_file: str,
    index: int = 1,
    score_thr: float = 0.3,
    device: str = 'cpu',
) -> str:
    """Draw one test image twice: the ground truth (left) and the model's prediction (right).

    Args:
        config (str | Config): An mmdet config (its ``test_dataloader.dataset`` is used).
        checkpoint (str): The checkpoint to load.
        out_file (str): The picture to write (its folder is created).
        index (int): The dataset index of the image. Defaults to 1 (index 0 of the toy data
            has no objects).
        score_thr (float): Predictions below this score are not drawn. Defaults to 0.3.
        device (str): The device to run the model on. Defaults to ``'cpu'``.

    Returns:
        str: ``out_file``.
    """
    from mmdet.apis import inference_detector, init_detector
    from mmdet.registry import DATASETS, VISUALIZERS

    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    model = init_detector(cfg, checkpoint, device=device)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    data_info = dataset.get_data_info(index)
    image = mmcv.imread(data_info['img_path'], channel_order='rgb')
    result = inference_detector(model, data_info['img_path'])
    result.gt_instances = _ground_truth(data_info, *image.shape[:2])

    visualizer = VISUALIZERS.build(
        dict(type='DetLocalVisualizer', name=f'smt_mm_demo_{os.getpid()}_{id(result)}')
    )
    visualizer.dataset_meta = model.dataset_meta
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    visualizer.add_datasample(
        osp.basename(data_info['img_path']),
        image,
        data_sample=result,
        draw_gt=True,
        draw_pred=True,
        show=False,
        pred_score_thr=score_thr,
        out_file=out_file,
    )
    return out_file
