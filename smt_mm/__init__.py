"""smt_mm: the Scale-Aware Modulation Transformer (SMT) for OpenMMLab 2.x.

Importing the package (``custom_imports=dict(imports=['smt_mm'])`` in a config) checks the
OpenMMLab stack, makes mmengine load checkpoints safely on torch >= 2.6 and save them atomically
(:class:`~smt_mm.engine.SafeCheckpointHook` as ``CheckpointHook``) and registers the SMT
backbone in mmengine's root ``MODELS`` registry, so that ``type='SMT'`` builds inside mmdet,
mmseg and mmpretrain configs alike. Only torch, mmengine and mmcv are needed; what serves one
toolbox (mmseg's checked IoU metric) is registered when that toolbox is installed.
"""

from .utils.compat import check_stack, stack_summary
from .version import __version__, version_info

check_stack()

from .models.checkpoint import register_safe_loader  # noqa: E402

register_safe_loader()

from . import engine, evaluation, models  # noqa: E402,F401

engine.install_safe_checkpoint_hook()

__all__ = ['__version__', 'version_info', 'stack_summary']
