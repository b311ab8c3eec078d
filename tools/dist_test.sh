#!/usr/bin/env bash
# Distributed testing on one node (or several) with torchrun.
#
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options, e.g. --tta...]
#   GPUS processes per node; on a machine without GPU they are CPU processes on the gloo backend.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail

exec bash "$(dirname "$0")/_torchrun.sh" test.py "$3" "$1" "$2" "${@:4}"
