"""The error a run stops with when its message says all the user needs to know."""


class RunError(RuntimeError):
    """A run stopped for a reason its message explains (what went wrong and the fix).

    ``tools/train.py`` and ``tools/test.py`` print it as ``error: ...`` and exit with status 1,
    without a traceback.
    """
