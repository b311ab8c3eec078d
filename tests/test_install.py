"""Installing smt_mm into an environment that has its stack changes nothing the user has.

``pip install --dry-run --report`` resolves ``-e .`` and each toolbox extra in the running
environment (in CI: the reference one and the oldest one, torch 2.1.2 with mmcv built against it)
and must plan to install smt_mm alone: no torch, torchvision, mmcv, numpy or CUDA library.
"""

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.oldest]


@pytest.mark.parametrize('target', ['.', '.[det]', '.[seg]', '.[cls]'])
def test_install_keeps_the_installed_stack(tmp_path, target):
    report = tmp_path / 'report.json'
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run', '--quiet', '--report', str(report),
         '--no-build-isolation', '--disable-pip-version-check', '-e', target],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    planned = {item['metadata']['name']: item['metadata']['version'] for item in
               json.loads(report.read_text())['install']}  # fmt: skip
    assert planned.keys() == {'smt_mm'}, f'pip would also install {planned}'
