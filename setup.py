"""Installs smt_mm. Version ranges only: exact pins live in requirements/constraints*.txt.

torch, torchvision and mmcv are not requirements: pip would replace the user's builds of them.
``import smt_mm`` checks them instead (docs/install.md), as mmdet, mmseg and mmpretrain do.
"""

import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
#: One extra per OpenMMLab toolbox; the core (torch, mmengine, mmcv) serves the backbone alone.
TOOLBOX_EXTRAS = ('det.txt', 'seg.txt', 'cls.txt')
#: ``all``: every toolbox and the ONNX deployment tools.
ALL_EXTRAS = (*TOOLBOX_EXTRAS, 'deploy.txt')


def read_requirements(name: str) -> list[str]:
    """Read one ``requirements/*.txt`` file, skipping comments and blank lines."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version() -> str:
    """Read ``__version__`` from smt_mm/version.py without importing the package."""
    scope: dict = {}
    with open(osp.join(HERE, 'smt_mm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


setup(
    name='smt_mm',
    version=read_version(),
    description='Scale-Aware Modulation Transformer (SMT) backbone for OpenMMLab 2.x',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    python_requires='>=3.10',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'det': read_requirements('det.txt'),
        'seg': read_requirements('seg.txt'),
        'cls': read_requirements('cls.txt'),
        'deploy': read_requirements('deploy.txt'),
        'all': [req for name in ALL_EXTRAS for req in read_requirements(name)],
        'tests': read_requirements('tests.txt'),
        'lint': read_requirements('lint.txt'),
    },
    zip_safe=False,
)
