"""The ``--show-dir`` visualisers: titled panels of >= 512 px, a class legend, labels inside."""

import glob
import itertools
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, load_tool
from mmengine.structures import InstanceData, PixelData

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')

from mmdet.registry import VISUALIZERS as DET_VISUALIZERS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.structures.mask import BitmapMasks  # noqa: E402
from mmseg.registry import VISUALIZERS as SEG_VISUALIZERS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import smt_mm  # noqa: E402,F401  (registers the visualisers)
from smt_mm.apis import build_model  # noqa: E402
from smt_mm.demo import toy_data_options  # noqa: E402
from smt_mm.toydata import generate_ade20k  # noqa: E402
from smt_mm.visualization.panels import MIN_PANEL  # noqa: E402

CLASSES = ('circle', 'square')
PALETTE = [(220, 20, 60), (0, 0, 255)]  # RGB
SIZE = 128
_names = itertools.count()


def _build(registry, type_name: str, **kwargs):
    """A new visualiser of a toolbox's registry (a new name: mmengine keeps instances by name)."""
    return registry.get(type_name)(name=f'show_dir_test_{next(_names)}', **kwargs)


def _inside(box, height, width):
    return 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)


def _det_sample() -> DetDataSample:
    sample = DetDataSample(metainfo=dict(img_path='/data/val/img_7.jpg'))
    masks = np.zeros((2, SIZE, SIZE), np.uint8)
    masks[0, 10:40, 10:40] = 1
    masks[1, 60:120, 70:125] = 1
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[10.0, 10, 40, 40], [70, 60, 125, 120]]),
        labels=torch.tensor([0, 1]),
        masks=BitmapMasks(masks, SIZE, SIZE),
    )
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[11.0, 9, 41, 39], [68, 62, 126, 127], [0, 0, 20, 20]]),
        labels=torch.tensor([0, 1, 1]),
        scores=torch.tensor([0.91, 0.55, 0.1]),
        masks=torch.from_numpy(np.concatenate([masks, masks[:1]]).astype(bool)),
    )
    return sample


def test_detection_picture_has_titles_legend_and_labels_inside(tmp_path):
    visualizer = _build(DET_VISUALIZERS, 'SMTDetLocalVisualizer')
    visualizer.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    out_file = str(tmp_path / 'vis' / 'img_7.jpg')
    visualizer.add_datasample('img_7', _image(), _det_sample(), out_file=out_file)
    sheet = visualizer.last_sheet
    assert sheet.titles == ['ground truth', 'prediction (score >= 0.30)']
    assert sheet.legend == list(CLASSES)
    assert min(sheet.panel_size) >= MIN_PANEL
    truth, predicted = sheet.labels
    assert [text for text, _ in truth] == ['circle', 'square']
    assert [text for text, _ in predicted] == ['circle 0.91', 'square 0.55']  # 0.1 < 0.3
    for _, box in truth + predicted:
        assert _inside(box, *sheet.panel_size)
    assert sheet.caption.startswith('img_7.jpg: 2 annotated objects, 2 predictions')
    written = cv2.imread(out_file)
    assert written.shape == sheet.image.shape
    assert written.shape[0] > MIN_PANEL and written.shape[1] >= 2 * MIN_PANEL
    assert visualizer.get_image().shape == sheet.image.shape  # RGB, as the parent keeps it


def test_detection_without_ground_truth_draws_the_prediction_only(tmp_path):
    visualizer = _build(DET_VISUALIZERS, 'SMTDetLocalVisualizer')
    visualizer.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    out_file = str(tmp_path / 'pred.png')
    visualizer.add_datasample(
        'pred', _image(), _det_sample(), draw_gt=False, out_file=out_file, pred_score_thr=0.6
    )
    sheet = visualizer.last_sheet
    assert sheet.titles == ['prediction (score >= 0.60)']
    assert [text for text, _ in sheet.labels[0]] == ['circle 0.91']
    assert cv2.imread(out_file).shape == sheet.image.shape


def test_detection_labels_past_the_class_list_are_named_by_index(tmp_path):
    visualizer = _build(DET_VISUALIZERS, 'SMTDetLocalVisualizer')
    visualizer.dataset_meta = dict(classes=CLASSES[:1], palette=PALETTE[:1])  # too short
    visualizer.add_datasample('img', _image(), _det_sample(), out_file=str(tmp_path / 'x.png'))
    assert visualizer.last_sheet.legend == ['circle', '1']
    assert [text for text, _ in visualizer.last_sheet.labels[0]] == ['circle', '1']


def _seg_sample() -> SegDataSample:
    truth = np.zeros((SIZE, SIZE), np.int64)
    truth[:, 64:] = 1
    truth[:4] = 255  # ignored
    prediction = truth.copy()
    prediction[:4] = 0
    prediction[:, 60:64] = 1
    sample = SegDataSample(metainfo=dict(img_path='/data/val/img_3.jpg'))
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(truth)[None])
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(prediction)[None])
    return sample


def test_segmentation_picture_is_written_where_the_parent_writes_it(tmp_path):
    visualizer = _build(
        SEG_VISUALIZERS,
        'SMTSegLocalVisualizer',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(tmp_path),
    )
    visualizer.set_dataset_meta(classes=CLASSES, palette=PALETTE)
    visualizer.add_datasample('test_img_3.jpg', _image(), _seg_sample(), step=4)
    sheet = visualizer.last_sheet
    assert sheet.titles == ['image', 'ground truth', 'prediction']
    assert sheet.legend == [*CLASSES, 'ignored']
    assert min(sheet.panel_size) >= MIN_PANEL
    assert sheet.caption.startswith('img_3.jpg: mIoU ')
    # mmseg's hook passes no out_file: the LocalVisBackend writes <save_dir>/vis_data/vis_image.
    written = cv2.imread(osp.join(tmp_path, 'vis_data', 'vis_image', 'test_img_3.jpg_4.png'))
    assert written.shape == sheet.image.shape
    # The prediction panel (the right one, under its title) is painted with the palette (BGR).
    height, width = sheet.panel_size
    right = written[:, -width:]
    circle, square = (np.array(color[::-1], np.uint8) for color in PALETTE)
    rows = np.where((right == circle).all(-1).any(1))[0]
    assert len(rows) == height and np.all(np.diff(rows) == 1)  # one block: the panel
    panel = right[rows][4 * height // SIZE :]  # below the top rows, predicted as circle
    assert (panel[:, : 60 * width // SIZE] == circle).all()
    assert (panel[:, 60 * width // SIZE :] == square).all()


def test_segmentation_without_ground_truth_and_to_a_file(tmp_path):
    visualizer = _build(SEG_VISUALIZERS, 'SMTSegLocalVisualizer')
    visualizer.set_dataset_meta(classes=CLASSES, palette=PALETTE)
    out_file = str(tmp_path / 'seg.png')
    visualizer.add_datasample('seg', _image(), _seg_sample(), draw_gt=False, out_file=out_file)
    sheet = visualizer.last_sheet
    assert sheet.titles == ['image', 'prediction']
    assert sheet.legend == list(CLASSES) and sheet.caption == ''
    assert cv2.imread(out_file).shape == sheet.image.shape


@pytest.mark.slow
def test_tools_test_show_dir_writes_explained_segmentation_pictures(tmp_path):
    """``tools/test.py --show-dir`` on 2 toy images with an untrained UPerNet (about 10 s)."""
    config = osp.join(REPO_ROOT, 'configs', 'segmentation', 'upernet_smt_t_toy.py')
    root = str(tmp_path / 'toy_ade20k')
    generate_ade20k(root, num_train=1, num_val=2)
    data = [f'{key}={value}' for key, value in toy_data_options(root).items()]
    checkpoint = str(tmp_path / 'untrained.pth')
    model = build_model(config, cfg_options=toy_data_options(root))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    # a visualiser of the configs' name made earlier in this process (by another run, a demo):
    # mmengine would hand it to this run, pictures and all, without a visualiser of its own
    SEG_VISUALIZERS.build(
        dict(type='SMTSegLocalVisualizer', name='visualizer', save_dir=str(tmp_path / 'elsewhere'))
    )
    show_dir = tmp_path / 'pics'
    options = ['default_hooks.visualization.interval=1', 'test_dataloader.num_workers=0']
    options.append('test_dataloader.persistent_workers=False')
    argv = [config, checkpoint, '--work-dir', str(tmp_path / 'work'), '--show-dir', str(show_dir)]
    load_tool('tools/test.py').main([*argv, '--cfg-options', *data, *options])
    pictures = sorted(glob.glob(str(show_dir / 'vis_data' / 'vis_image' / '*.png')))
    assert [osp.basename(p) for p in pictures] == ['test_000000.jpg_0.png', 'test_000001.jpg_0.png']
    for picture in pictures:  # image | ground truth | prediction, a legend and a caption below
        height, width = cv2.imread(picture).shape[:2]
        assert height > MIN_PANEL and width >= 3 * MIN_PANEL
