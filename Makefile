# smt_mm developer commands. `make test` and `make demo` set up .venv/ first when needed.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The oldest supported stack (torch 2.1.2; docs/install.md), beside the reference one.
OLDEST_VENV  ?= .venv-oldest
OLDEST_STAMP := $(OLDEST_VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist workers (one torch thread each, tests/conftest.py); JOBS=0 runs in this process.
JOBS   ?= 2
XDIST  := -n $(JOBS) --dist loadgroup --no-loadscope-reorder

.DEFAULT_GOAL := venv
.PHONY: venv venv-oldest test test-fast test-oldest demo demo-seg benchmark lint format clean-venv

# Rebuilt only when a pin, a requirement or the set-up script changes.
$(STAMP): requirements/*.txt setup.py tools/setup_venv.sh
	VENV=$(VENV) bash tools/setup_venv.sh
	touch $@

venv: $(STAMP)  ## build the reference environment (.venv/) once

$(OLDEST_STAMP): requirements/*.txt setup.py tools/setup_venv.sh
	VENV=$(OLDEST_VENV) CONSTRAINTS=requirements/constraints-oldest.txt bash tools/setup_venv.sh
	touch $@

venv-oldest: $(OLDEST_STAMP)  ## build the oldest supported stack (.venv-oldest/, torch 2.1.2) once

test: $(STAMP)  ## the whole test suite, slow end-to-end tests included
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)  ## unit tests only (skips the end-to-end training runs)
	$(PY) -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-oldest: $(OLDEST_STAMP)  ## on the oldest stack: unit tests and the `oldest` end-to-end runs
	$(OLDEST_VENV)/bin/python -m pytest -m "not slow or oldest" $(XDIST) $(PYTEST_ARGS)

demo: $(STAMP)  ## detection demo: toy data, SMT-T Mask R-CNN trained on CPU, COCO mAP, a picture
	$(PY) tools/demo.py

demo-seg: $(STAMP)  ## segmentation demo: toy data, SMT-T UPerNet trained on CPU, ss/ms mIoU, a picture
	$(PY) tools/demo.py segmentation

benchmark: $(STAMP)  ## SMT vs Swin speed, memory and MACs side by side (docs/benchmarks.md)
	$(PY) tools/analysis/benchmark.py --rounds 2 --out-dir work_dirs/benchmark

lint: $(STAMP)  ## ruff (lint, imports, format), codespell, docstring coverage, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/codespell
	$(VENV)/bin/interrogate smt_mm
	$(VENV)/bin/mypy

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean-venv:  ## remove .venv/ and .venv-oldest/ (the cached mmcv wheels outside the repo are kept)
	rm -rf $(VENV) $(OLDEST_VENV)
