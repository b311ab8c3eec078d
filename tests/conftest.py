"""Shared pytest set-up: importing smt_mm registers the backbone and the safe loader."""

import smt_mm  # noqa: F401
