"""COCO annotations that the dataset drops, counted and reported where the file is parsed.

mmdet's ``CocoDataset`` leaves out, without a word, annotations whose box has no area or lies
outside the image, whose category is not in the file, or whose image is not in the file: those
objects then train as background. :class:`CheckedCocoDataset` parses the file exactly as
``CocoDataset`` does, counts every annotation it leaves out per reason, logs the counts when the
dataset is built and, in strict mode (the default), refuses a file with invalid annotations.
"""

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from mmdet.datasets import CocoDataset
from mmengine.logging import print_log
from mmengine.registry import DATASETS

from ..utils.errors import RunError

#: Why an annotation is left out: ``reason -> (description, invalid)``. Invalid ones are errors
#: of the file (strict mode refuses it); the others are left out on purpose.
DROP_REASONS: dict[str, tuple[str, bool]] = {
    'degenerate_box': ('box under 1 px wide or high, or of no area', True),
    'outside_image': ('box outside the image', True),
    'unknown_category': ("category_id not among the file's categories", True),
    'unknown_image': ("image_id not among the file's images", True),
    'other': ('left out by the dataset for another reason', True),
    'ignore': ('marked "ignore": true', False),
    'class_not_selected': ('category not among metainfo.classes (left out on purpose)', False),
    'image_filtered': ('annotation of an image that filter_cfg left out', False),
}


def drop_reason(
    ann: dict, width: float, height: float, file_categories: set, selected: set
) -> str | None:
    """Why mmdet's ``CocoDataset`` leaves out one COCO annotation, or None if it keeps it.

    Args:
        ann (dict): The annotation (``bbox`` as ``[x, y, w, h]``, ``area``, ``category_id``).
        width (float): The image's width.
        height (float): The image's height.
        file_categories (set): The category ids of the file.
        selected (set): The category ids of the dataset's ``metainfo.classes``.

    Returns:
        str | None: A key of :data:`DROP_REASONS`, or None.
    """
    if ann.get('ignore', False):
        return 'ignore'
    x, y, w, h = ann['bbox']
    if w < 1 or h < 1 or ann.get('area', 1) <= 0:
        return 'degenerate_box'
    if min(x + w, width) - max(x, 0) <= 0 or min(y + h, height) - max(y, 0) <= 0:
        return 'outside_image'
    if ann['category_id'] not in file_categories:
        return 'unknown_category'
    if ann['category_id'] not in selected:
        return 'class_not_selected'
    return None


@dataclass
class AnnotationReport:
    """What a COCO file holds and what the dataset kept of it.

    Attributes:
        ann_file (str): The file.
        total (int): Its annotations.
        kept (int): Annotations kept as objects (crowd regions included).
        crowd (int): Kept ones marked ``iscrowd`` (trained as ignore regions, not an error).
        dropped (Counter): Dropped annotations per reason (:data:`DROP_REASONS`).
        examples (dict): The first annotation ids per reason.
        images_filtered (int): Images left out by ``filter_cfg`` (no object, too small).
    """

    ann_file: str
    total: int = 0
    kept: int = 0
    crowd: int = 0
    dropped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=lambda: defaultdict(list))
    images_filtered: int = 0

    def add(self, reason: str, ann_id: object, count: int = 1) -> None:
        """Count ``count`` dropped annotations for ``reason``, remembering a few ids."""
        self.dropped[reason] += count
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(ann_id)

    @property
    def invalid(self) -> dict[str, int]:
        """The counts of the reasons that are errors of the file."""
        return {r: n for r, n in self.dropped.items() if DROP_REASONS[r][1]}

    def describe(self, reasons: dict[str, int]) -> str:
        """``'N description (ids [...])'`` for each reason, joined."""
        return '; '.join(
            f'{count} {DROP_REASONS[reason][0]} (annotation ids {self.examples[reason]})'
            for reason, count in sorted(reasons.items())
        )

    def summary(self) -> str:
        """One line: what was read, kept and dropped, per reason."""
        dropped = sum(self.dropped.values())
        line = (
            f'annotations of {self.ann_file}: {self.total} read, {self.kept} kept '
            f'({self.crowd} crowd regions, trained as ignore), {dropped} dropped'
        )
        if dropped:
            line += f': {self.describe(dict(self.dropped))}'
        if self.images_filtered:
            line += f'; {self.images_filtered} images left out by filter_cfg'
        return line


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` that counts what it drops and, strict, refuses invalid files.

    Parsing and the kept data are exactly ``CocoDataset``'s. While the file is parsed, every
    annotation left out is counted per reason (:data:`DROP_REASONS`): boxes without area or
    outside their image, unknown categories and images are errors of the file; ``"ignore":
    true``, categories not among ``metainfo.classes`` and images removed by ``filter_cfg`` are
    choices. Crowd annotations (``iscrowd``) are kept as ignore regions and only counted. The
    counts are logged when the dataset is built (:attr:`annotation_report`). A file that is not
    valid JSON (e.g. truncated) is refused with its name.

    Args:
        *args: ``CocoDataset``'s arguments.
        strict_annotations (bool): Refuse a file that holds invalid annotations, naming them,
            instead of dropping them with a warning. Defaults to True.
        **kwargs: ``CocoDataset``'s keyword arguments.

    Example:
        >>> train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))  # a toy config
        >>> # real COCO: a few degenerate boxes, dropped as mmdet does, with a warning
        >>> train_dataloader = dict(
        ...     dataset=dict(type='CheckedCocoDataset', strict_annotations=False))
    """

    def __init__(self, *args: object, strict_annotations: bool = True, **kwargs: object) -> None:
        self.strict_annotations = strict_annotations
        self.annotation_report: AnnotationReport | None = None
        self._file_categories: set = set()
        self._selected: set = set()
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def load_data_list(self) -> list[dict]:
        """Parse the file as ``CocoDataset`` does, counting what it leaves out.

        Raises:
            RunError: If the file is not valid JSON; the message names it.
        """
        report = AnnotationReport(str(self.ann_file))
        self.annotation_report = report
        try:
            data_list = super().load_data_list()
        except json.JSONDecodeError as err:
            raise RunError(
                f'the annotation file {self.ann_file} is not valid JSON ({err}): probably '
                'truncated by an interrupted download or copy. Download or copy it again.'
            ) from err
        seen = report.kept + sum(report.dropped.values())
        if report.total > seen:  # COCO lists an image's annotations only for its images
            report.add('unknown_image', '?', report.total - seen)
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Parse one image as ``CocoDataset`` does and count its left-out annotations."""
        report = self.annotation_report
        assert report is not None
        if not report.total:  # the first image: the file is loaded
            report.total = len(self.coco.anns)
            self._file_categories = set(self.coco.cats)
            self._selected = set(self.cat_ids)
        data_info = super().parse_data_info(raw_data_info)
        assert isinstance(data_info, dict)
        image = raw_data_info['raw_img_info']
        reasons = [
            drop_reason(ann, image['width'], image['height'], self._file_categories, self._selected)
            for ann in raw_data_info['raw_ann_info']
        ]
        kept = len(data_info['instances'])
        if kept == reasons.count(None):
            for ann, reason in zip(raw_data_info['raw_ann_info'], reasons, strict=True):
                if reason is not None:
                    report.add(reason, ann.get('id'))
        elif len(reasons) > kept:  # a version of mmdet that drops by other rules
            report.add('other', f'image {image.get("id")}', len(reasons) - kept)
        report.kept += kept
        report.crowd += sum(1 for i in data_info['instances'] if i['ignore_flag'])
        return data_info

    def filter_data(self) -> list[dict]:
        """Filter as ``CocoDataset`` does, then report the counts, or refuse the file.

        Raises:
            RunError: In strict mode, if annotations were dropped as invalid; the message
                counts them per reason, names the first ids and the opt-out.
        """
        kept = super().filter_data()
        report = self.annotation_report
        if report is None:
            return kept
        kept_ids = {info['img_id'] for info in kept}
        for info in self.data_list:
            if info['img_id'] not in kept_ids:
                report.images_filtered += 1
                if info['instances']:
                    report.add('image_filtered', info['img_id'], len(info['instances']))
                    report.kept -= len(info['instances'])
        invalid = report.invalid
        if invalid and self.strict_annotations:
            raise RunError(
                f'the annotation file {report.ann_file} holds {sum(invalid.values())} invalid '
                f'annotations, which would train as background: {report.describe(invalid)}. '
                'Fix the file, or drop them with a warning as mmdet does: '
                'strict_annotations=False on this dataset (e.g. --cfg-options '
                'train_dataloader.dataset.strict_annotations=False).'
            )
        print_log(
            report.summary(),
            logger='current',
            level=logging.WARNING if invalid else logging.INFO,
        )
        return kept
