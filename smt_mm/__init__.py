"""smt_mm: the Scale-Aware Modulation Transformer (SMT) for OpenMMLab 2.x.

Importing the package (``custom_imports=dict(imports=['smt_mm'])`` in a config) checks the
OpenMMLab stack (torch included), makes mmengine load checkpoints safely (weights only, on every
supported torch) and save them atomically (:class:`~smt_mm.engine.SafeCheckpointHook` as
``CheckpointHook``), makes image reading errors name the file
(:class:`~smt_mm.datasets.CheckedLoadImageFromFile` as ``LoadImageFromFile``) and registers the SMT
backbone in mmengine's root ``MODELS`` registry, so that ``type='SMT'`` builds inside mmdet,
mmseg and mmpretrain configs alike. Only torch, mmengine and mmcv are needed; what serves one
toolbox (mmseg's checked IoU metric, mmdet's checked COCO dataset, the ``--show-dir``
visualisers of :mod:`smt_mm.visualization.visualizers`, imported when first built) is registered
when that toolbox is installed.

Layers, lowest first: a package imports only packages of a lower layer, and never another
package's private (``_``) names; ``tests/test_layering.py`` checks it.

0. ``utils`` (stack checks; imports no other package), ``toydata`` (toy datasets; self-contained)
1. ``models``: the SMT backbone and its checkpoints
2. ``engine`` (runner hooks, work dirs, signals), ``datasets`` (checked data: datasets,
   transforms, the data checks before training), ``evaluation`` (metrics), ``config``
   (``load_config``: the one way a config is read and checked)
3. ``apis``: training, testing, ``build_model`` (the one way a config's model is built) and the
   command-line options the tools share
4. ``visualization``, ``deployment``, ``analysis``: use models and apis
5. ``benchmark`` (speed of models and of exported files), ``demo`` (toy data to pictures),
   ``maps`` (modulation maps and effective receptive fields, drawn with ``visualization``)

and ``tools/`` over all of them.
"""

from .utils.compat import check_stack, stack_summary
from .version import __version__, version_info

check_stack()

from .models.checkpoint import register_safe_loader  # noqa: E402

register_safe_loader()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .visualization import show_dir  # noqa: E402

engine.install_safe_checkpoint_hook()
datasets.install_checked_image_loading()
show_dir.register_visualizers()

__all__ = ['__version__', 'version_info', 'stack_summary']
