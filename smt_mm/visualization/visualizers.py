"""The pictures of ``tools/test.py --show-dir``: the toolboxes' visualisers, drawn as sheets.

:class:`SMTDetLocalVisualizer` (in mmdet's ``VISUALIZERS``) and :class:`SMTSegLocalVisualizer`
(in mmseg's; :mod:`.show_dir` registers them by name, this module is imported at the first
build) replace ``add_datasample`` of mmdet's ``DetLocalVisualizer`` and mmseg's
``SegLocalVisualizer``: the same inputs, the same files (``out_file``, or the visualisation
backends under ``name`` and ``step``), but titled panels of at least
:data:`~.panels.MIN_PANEL` px with labels inside them, and the dataset's classes in a legend.
Each class exists only when its toolbox is installed; ``smt_mm.config.enable_visualization``
selects them by name. Data samples these pictures do not cover (panoptic segmentation, depth
maps) are drawn by the parent class.
"""

import os.path as osp

import cv2
import mmcv
import numpy as np
from mmengine.structures import BaseDataElement, PixelData
from mmengine.visualization import Visualizer

from ..utils.compat import toolbox_available
from .detection import draw_instances
from .panels import Sheet, compose, upscale
from .segmentation import IGNORED_COLOR, colorize, image_miou

__all__: list[str] = []


def _caption(data_sample: BaseDataElement | None, counts: str) -> str:
    """``'<image file>: <counts>'``, or ``counts`` alone when the sample names no file."""
    path = data_sample.metainfo.get('img_path') if data_sample is not None else None
    return f'{osp.basename(path)}: {counts}' if path else counts


def _output(
    visualizer: Visualizer,
    sheet: Sheet,
    name: str,
    show: bool,
    wait_time: float,
    out_file: str | None,
    step: int,
) -> None:
    """Keep ``sheet`` and hand its picture on as the toolboxes' visualisers do theirs."""
    visualizer.last_sheet = sheet  # type: ignore[attr-defined]
    rgb = np.ascontiguousarray(sheet.image[..., ::-1])
    visualizer.set_image(rgb)
    if show:
        visualizer.show(rgb, win_name=name, wait_time=wait_time)
    if out_file is not None:
        mmcv.imwrite(sheet.image, out_file)
    else:
        visualizer.add_image(name, rgb, step)


if toolbox_available('mmdet'):
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer
    from mmdet.visualization.palette import get_palette as det_palette

    class SMTDetLocalVisualizer(DetLocalVisualizer):
        """mmdet's ``DetLocalVisualizer`` whose pictures are titled, enlarged and have a legend.

        Panels: ``ground truth`` and ``prediction (score >= THR)`` (either one alone with
        ``draw_gt=False`` / ``draw_pred=False``; the image when a sample has neither): masks
        tinted and boxes outlined in the class colours of the legend below, labelled with the
        class (and score). The caption names the image and counts the objects drawn.

        Attributes:
            last_sheet (Sheet | None): The layout of the last picture drawn.
        """

        last_sheet: Sheet | None = None

        def add_datasample(
            self,
            name: str,
            image: np.ndarray,
            data_sample: DetDataSample | None = None,
            draw_gt: bool = True,
            draw_pred: bool = True,
            show: bool = False,
            wait_time: float = 0,
            out_file: str | None = None,
            pred_score_thr: float = 0.3,
            step: int = 0,
        ) -> None:
            """Draw a sample's ground truth and prediction; show, write or log the picture.

            The arguments are those of mmdet's ``DetLocalVisualizer.add_datasample``: panoptic
            and semantic samples are drawn by it.
            """
            if data_sample is not None and any(
                key in data_sample for key in ('gt_sem_seg', 'gt_panoptic_seg', 'pred_panoptic_seg')
            ):
                return super().add_datasample(
                    name, image, data_sample, draw_gt, draw_pred, show, wait_time, out_file,
                    pred_score_thr, step,
                )  # fmt: skip
            bgr = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8)[..., ::-1])
            meta = self.dataset_meta or {}
            classes = list(meta.get('classes') or [])
            instances = [
                data_sample.get(key)
                for key, wanted in (('gt_instances', draw_gt), ('pred_instances', draw_pred))
                if wanted and data_sample is not None and key in data_sample
            ]
            labels = [int(lb) for inst in instances for lb in inst.labels]
            num_classes = max([len(classes), *(lb + 1 for lb in labels)])
            classes += [str(k) for k in range(len(classes), num_classes)]
            palette = meta.get('palette')
            if isinstance(palette, list):  # labels past the dataset's palette: random colours
                palette = palette + det_palette('random', num_classes)[len(palette) :]
            palette = det_palette(palette, num_classes)
            palette = [tuple(int(c) for c in color[::-1]) for color in palette]  # RGB -> BGR
            panels, drawn, counts = [], [], []
            sample = data_sample.cpu() if data_sample is not None else None
            if draw_gt and sample is not None and 'gt_instances' in sample:
                gt = sample.gt_instances
                texts = [classes[int(lb)] for lb in gt.labels]
                panel, placed = draw_instances(bgr, gt, texts, palette)
                panels.append(('ground truth', panel))
                drawn.append(placed)
                counts.append(f'{len(gt)} annotated objects')
            if draw_pred and sample is not None and 'pred_instances' in sample:
                pred = sample.pred_instances
                pred = pred[pred.scores >= pred_score_thr]
                texts = [
                    f'{classes[int(lb)]} {float(s):.2f}'
                    for lb, s in zip(pred.labels, pred.scores, strict=True)
                ]
                panel, placed = draw_instances(bgr, pred, texts, palette)
                panels.append((f'prediction (score >= {pred_score_thr:.2f})', panel))
                drawn.append(placed)
                counts.append(f'{len(pred)} predictions (scores from 0 to 1)')
            if not panels:
                panels.append(('image', upscale(bgr)[0]))
            sheet = compose(
                panels,
                legend=list(zip(classes, palette, strict=True)),
                caption=_caption(sample, ', '.join(counts)) if counts else '',
                labels=drawn,
            )
            _output(self, sheet, name, show, wait_time, out_file, step)

    __all__ += ['SMTDetLocalVisualizer']


if toolbox_available('mmsegmentation'):
    from mmseg.structures import SegDataSample
    from mmseg.visualization import SegLocalVisualizer

    def _label_map(pixel_data: PixelData, shape: tuple[int, int]) -> np.ndarray:
        """A ``PixelData``'s ``(1, H, W)`` label map as an ``(H, W)`` array of the image's size."""
        label_map = pixel_data.data.cpu().numpy()[0].astype(np.int64)
        if label_map.shape != shape:
            label_map = cv2.resize(
                label_map.astype(np.int32), shape[::-1], interpolation=cv2.INTER_NEAREST
            ).astype(np.int64)
        return label_map

    class SMTSegLocalVisualizer(SegLocalVisualizer):
        """mmseg's ``SegLocalVisualizer`` whose pictures are titled, enlarged and have a legend.

        Panels: ``image``, ``ground truth`` and ``prediction`` (without the ground truth with
        ``draw_gt=False``, without the prediction with ``draw_pred=False``), painted with the
        class colours of the legend below; pixels labelled ``ignore_index`` are white.

        Args:
            name (str): The instance's name (mmengine's ``ManagerMixin``). Defaults to
                ``'visualizer'``.
            ignore_index (int): The label of ignored pixels. Defaults to 255 (mmseg's).
            **kwargs: ``SegLocalVisualizer``'s arguments.

        Attributes:
            last_sheet (Sheet | None): The layout of the last picture drawn.
        """

        last_sheet: Sheet | None = None

        def __init__(self, name: str = 'visualizer', ignore_index: int = 255, **kwargs) -> None:
            super().__init__(name=name, **kwargs)
            self.ignore_index = ignore_index

        def add_datasample(
            self,
            name: str,
            image: np.ndarray,
            data_sample: SegDataSample | None = None,
            draw_gt: bool = True,
            draw_pred: bool = True,
            show: bool = False,
            wait_time: float = 0,
            out_file: str | None = None,
            step: int = 0,
            with_labels: bool | None = True,
        ) -> None:
            """Draw an image, its ground truth and prediction; show, write or log the picture.

            The arguments are those of mmseg's ``SegLocalVisualizer.add_datasample``
            (``with_labels`` is unused: the legend names the classes); samples without a
            semantic map (depth) are drawn by it.
            """
            if data_sample is None or not any(
                key in data_sample for key in ('gt_sem_seg', 'pred_sem_seg')
            ):
                return super().add_datasample(
                    name, image, data_sample, draw_gt, draw_pred, show, wait_time, out_file,
                    step, with_labels,
                )  # fmt: skip
            bgr = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8)[..., ::-1])
            classes, palette = self.dataset_meta['classes'], self.dataset_meta['palette']
            panels = [('image', upscale(bgr)[0])]
            shape = (bgr.shape[0], bgr.shape[1])
            maps = [
                (title, _label_map(data_sample.get(key), shape))
                for title, key, wanted in (
                    ('ground truth', 'gt_sem_seg', draw_gt),
                    ('prediction', 'pred_sem_seg', draw_pred),
                )
                if wanted and key in data_sample
            ]
            for title, label_map in maps:
                panels.append((title, upscale(colorize(label_map, palette, self.ignore_index))[0]))
            legend = [
                (cls, tuple(color[::-1])) for cls, color in zip(classes, palette, strict=False)
            ]
            if any(np.any(label_map == self.ignore_index) for _, label_map in maps):
                legend.append(('ignored', IGNORED_COLOR))
            caption = ''
            if len(maps) == 2:
                miou = image_miou(maps[1][1], maps[0][1], self.ignore_index)
                caption = _caption(
                    data_sample,
                    f'mIoU {100 * miou:.1f}% over the classes in its ground truth or prediction',
                )
            sheet = compose(panels, legend=legend, caption=caption)
            _output(self, sheet, name, show, wait_time, out_file, step)

    __all__ += ['SMTSegLocalVisualizer']
