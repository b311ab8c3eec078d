"""The shell launchers build the command lines mmdet's tools/*.sh users expect.

``srun`` and the Python interpreter are replaced by stubs that print their arguments, so the
tests check what each script would run (the real 2-process run is in the slow detection and
segmentation tests).
"""

import os
import os.path as osp
import signal
import stat
import subprocess
import time

import pytest
from conftest import REPO_ROOT

TOOLS = osp.join(REPO_ROOT, 'tools')


def _echo_stub(path, name):
    path.write_text(f'#!/bin/sh\necho {name} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture
def stub_env(tmp_path):
    _echo_stub(tmp_path / 'srun', 'srun')
    env = dict(os.environ)
    env['PATH'] = f'{tmp_path}{os.pathsep}{env["PATH"]}'
    env['PYTHON'] = _echo_stub(tmp_path / 'python-stub', 'python')
    return env


def _run(script, args, env):
    out = subprocess.run(
        ['bash', osp.join(TOOLS, script), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_dist_train(stub_env):
    stub_env.update(NNODES='2', NODE_RANK='1', PORT='29511')
    argv = _run('dist_train.sh', ['cfg.py', '4', '--amp', '--work-dir', 'wd'], stub_env)
    assert argv[:3] == ['python', '-m', 'torch.distributed.run']
    assert {'--nnodes=2', '--node_rank=1', '--nproc_per_node=4', '--master_port=29511'} <= set(argv)
    script = argv.index(osp.join(TOOLS, 'train.py'))
    assert argv[script + 1 :] == ['cfg.py', '--amp', '--work-dir', 'wd', '--launcher', 'pytorch']


def test_dist_test(stub_env):
    argv = _run('dist_test.sh', ['cfg.py', 'model.pth', '2', '--tta'], stub_env)
    assert '--nproc_per_node=2' in argv
    script = argv.index(osp.join(TOOLS, 'test.py'))
    assert argv[script + 1 :] == ['cfg.py', 'model.pth', '--tta', '--launcher', 'pytorch']


def test_slurm_train(stub_env):
    stub_env.update(GPUS='16', SRUN_ARGS='--qos=high --time=10')
    argv = _run('slurm_train.sh', ['part', 'job', 'cfg.py', 'wd', '--resume'], stub_env)
    assert argv[:3] == ['srun', '-p', 'part']
    assert {'--job-name=job', '--ntasks=16', '--gres=gpu:8', '--qos=high', '--time=10'} <= set(argv)
    script = argv.index(osp.join(TOOLS, 'train.py'))
    assert argv[script - 2 : script] == [stub_env['PYTHON'], '-u']
    assert argv[script + 1 :] == ['cfg.py', '--work-dir=wd', '--resume', '--launcher=slurm']


def test_slurm_test(stub_env):
    argv = _run('slurm_test.sh', ['part', 'job', 'cfg.py', 'model.pth', '--tta'], stub_env)
    script = argv.index(osp.join(TOOLS, 'test.py'))
    assert argv[script + 1 :] == ['cfg.py', 'model.pth', '--tta', '--launcher=slurm']


#: A torchrun stand-in: two ranks record their error (rank 1 first), then it reports and fails.
FAILING_LAUNCH = """#!/bin/sh
[ "$1" = -c ] && exit 0
echo 'error: rank 1 cannot read its data' > "$SMT_MM_ERROR_DIR/1000.rank1"
echo 'error: rank 0 cannot read its data' > "$SMT_MM_ERROR_DIR/2000.rank0"
echo "$SMT_MM_ERROR_DIR" > "$(dirname "$0")/error_dir"
echo 'ChildFailedError: a long traceback' >&2
exit 3
"""


def test_dist_launch_prints_the_first_error_once_last(tmp_path):
    python = tmp_path / 'python'
    python.write_text(FAILING_LAUNCH)
    python.chmod(0o755)
    env = {**os.environ, 'PYTHON': str(python), 'PORT': '29512', 'TMPDIR': str(tmp_path)}
    result = subprocess.run(
        ['bash', osp.join(TOOLS, 'dist_train.sh'), 'cfg.py', '2'],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 3  # torchrun's
    lines = result.stderr.splitlines()
    assert lines[0] == 'ChildFailedError: a long traceback'
    assert lines[-2:] == [
        'error: rank 1 cannot read its data',
        "  (rank 1: the first of 2 rank(s) that stopped on an error; the launcher's report is "
        'above)',
    ]
    assert result.stderr.count('error: ') == 1
    assert not osp.exists((tmp_path / 'error_dir').read_text().strip())  # removed


def test_dist_launch_passes_sigterm_to_torchrun(tmp_path):
    python = tmp_path / 'python'
    python.write_text(
        '#!/bin/sh\n[ "$1" = -c ] && exit 0\n'
        f"trap 'touch {tmp_path}/terminated; exit 143' TERM\n"
        f'touch {tmp_path}/started\nwhile :; do sleep 0.1; done\n'
    )
    python.chmod(0o755)
    env = {**os.environ, 'PYTHON': str(python), 'PORT': '29513'}
    launch = subprocess.Popen(['bash', osp.join(TOOLS, 'dist_train.sh'), 'cfg.py', '2'], env=env)
    try:
        deadline = time.time() + 20
        while not (tmp_path / 'started').exists() and time.time() < deadline:
            time.sleep(0.1)
        launch.send_signal(signal.SIGTERM)
        assert launch.wait(timeout=20) == 143
    finally:
        if launch.poll() is None:
            launch.kill()
    assert (tmp_path / 'terminated').exists()
