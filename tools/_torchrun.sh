#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: run a tools/ script under torchrun.
#
# Usage: bash tools/_torchrun.sh SCRIPT PROCS_PER_NODE [script arguments...]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail

SCRIPT=$1
PROCS=$2
TOOLS="$(dirname "$0")"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$PROCS" \
    --master_port="${PORT:-29500}" \
    "$TOOLS/$SCRIPT" \
    "${@:3}" \
    --launcher pytorch
