#!/usr/bin/env bash
# Distributed training on one node (or several) with torchrun.
#
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py options...]
#   GPUS processes per node; on a machine without GPU they are CPU processes on the gloo backend.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail

exec bash "$(dirname "$0")/_torchrun.sh" train.py "$2" "$1" "${@:3}"
