"""Fault-injection tests: one torch thread for every test module of this folder."""

import pytest
import torch


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine two threads wait on each other (~25x)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
