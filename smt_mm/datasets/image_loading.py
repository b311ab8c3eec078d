"""Image reading that names the file it could not read.

mmcv's ``LoadImageFromFile`` lets the decoder's error through: a zero-byte image (an
interrupted download or copy) fails deep in a data-loader worker with OpenCV's
``cv2.error ... !buf.empty()``, naming no file. :class:`CheckedLoadImageFromFile` reads exactly
as mmcv does and re-raises with the path and the likely cause;
:func:`install_checked_image_loading` makes ``type='LoadImageFromFile'`` build it.
"""

import os.path as osp

from mmcv.transforms import LoadImageFromFile
from mmengine.registry import TRANSFORMS


class ImageReadError(OSError):
    """Raised when an image file cannot be read or decoded; the message names the file."""


class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` whose errors name the image file and the likely cause.

    The arguments are mmcv's; with ``ignore_empty=True`` unreadable files are skipped as mmcv
    skips them.
    """

    def transform(self, results: dict) -> dict | None:
        """Load the image of ``results['img_path']`` as mmcv does.

        Args:
            results (dict): The data of one sample (``img_path``).

        Returns:
            dict | None: ``results`` with the image, or None for an unreadable file with
            ``ignore_empty=True``.

        Raises:
            ImageReadError: If the file cannot be read or decoded; the message names it, its
                size and the fix.
        """
        try:
            return super().transform(results)
        except Exception as err:
            path = results.get('img_path', '?')
            if isinstance(err, FileNotFoundError) or not osp.isfile(str(path)):
                cause = 'it does not exist'
            elif osp.getsize(path) == 0:
                cause = 'it is empty (0 bytes: an interrupted download or copy?)'
            else:
                cause = f'it is damaged or not an image ({type(err).__name__}: {err})'
            raise ImageReadError(
                f'cannot read the image {path}: {cause}. Replace or remove the file (and its '
                'annotations), or check the data_root and data_prefix of the dataset.'
            ) from err


def install_checked_image_loading() -> None:
    """Make ``type='LoadImageFromFile'`` build :class:`CheckedLoadImageFromFile` (idempotent).

    Registered in mmengine's root ``TRANSFORMS`` registry, where mmcv registers its own class,
    which the mmdet and mmseg pipelines fall back to. mmpretrain registers mmcv's class in its
    own registry, so its pipelines keep mmcv's messages.
    """
    for name in ('CheckedLoadImageFromFile', 'LoadImageFromFile'):
        TRANSFORMS.register_module(name=name, module=CheckedLoadImageFromFile, force=True)
