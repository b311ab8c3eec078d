"""Checked data: a dataset, a transform and a hook that name the file where data is bad.

The toolboxes drop or misread such data without a word.

:class:`CheckedCocoDataset` (in the root ``DATASETS`` registry) extends mmdet's dataset: it
exists only when mmdet is installed.
"""

from ..utils.compat import toolbox_available
from .checks import TrainDataCheckHook, check_label_files, check_num_classes
from .image_loading import CheckedLoadImageFromFile, ImageReadError, install_checked_image_loading

__all__ = [
    'CheckedLoadImageFromFile',
    'ImageReadError',
    'TrainDataCheckHook',
    'check_label_files',
    'check_num_classes',
    'install_checked_image_loading',
]

if toolbox_available('mmdet'):
    from .annotations import AnnotationReport, CheckedCocoDataset

    __all__ += ['AnnotationReport', 'CheckedCocoDataset']
