"""Run a tool with faults injected: ``python inject.py tools/train.py ARGS...``.

The faults, chosen by environment variables (counted per process):

* ``FAULT_NAN_FROM=N``: the loss becomes NaN from the N-th training step on (a real divergence:
  the NaN gradients reach the weights);
* ``FAULT_PAUSE_AT=N``: the N-th training step sleeps for an hour (the test kills the process),
  or for ``FAULT_PAUSE_SECONDS`` (a signal the run defers does not cut the sleep short);
* ``FAULT_PAUSE_TEST_AT=N``: the N-th test step (``tools/test.py``) sleeps for an hour;
* ``FAULT_KILL_IN_SAVE=N``: the N-th checkpoint file write stops half-way with SIGKILL.
"""

import os
import runpy
import signal
import sys
import time

from mmengine.fileio.backends import LocalBackend
from mmengine.model import BaseModel

_counts = {'steps': 0, 'saves': 0, 'tests': 0}
_parse_losses = BaseModel.parse_losses
_put = LocalBackend.put
_test_step = BaseModel.test_step


def _faulty_parse_losses(self, losses):
    _counts['steps'] += 1
    if _counts['steps'] == int(os.environ.get('FAULT_PAUSE_AT', '0')):
        # one write (print writes the newline apart): the lines of two ranks stay apart
        sys.stdout.write(f'FAULT: pausing at step {_counts["steps"]}\n')
        sys.stdout.flush()
        time.sleep(float(os.environ.get('FAULT_PAUSE_SECONDS', '3600')))
    loss, log_vars = _parse_losses(self, losses)
    if _counts['steps'] >= int(os.environ.get('FAULT_NAN_FROM', str(1 << 30))):
        loss = loss * float('nan')
        log_vars['loss'] = loss.detach()
    return loss, log_vars


def _faulty_put(self, obj, filepath):
    if str(filepath).endswith(('.pth', '.pth.tmp')):
        _counts['saves'] += 1
        if _counts['saves'] == int(os.environ.get('FAULT_KILL_IN_SAVE', '0')):
            with open(filepath, 'wb') as f:
                f.write(obj[: len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            print(f'FAULT: killed while writing {filepath}', flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    return _put(self, obj, filepath)


def _faulty_test_step(self, data):
    _counts['tests'] += 1
    if _counts['tests'] == int(os.environ.get('FAULT_PAUSE_TEST_AT', '0')):
        print(f'FAULT: pausing at test step {_counts["tests"]}', flush=True)
        time.sleep(3600)
    return _test_step(self, data)


BaseModel.parse_losses = _faulty_parse_losses
BaseModel.test_step = _faulty_test_step
LocalBackend.put = _faulty_put

if __name__ == '__main__':
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
