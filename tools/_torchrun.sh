#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: run a tools/ script under torchrun.
#
# Usage: bash tools/_torchrun.sh SCRIPT PROCS_PER_NODE [script arguments...]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail

SCRIPT=$1
PROCS=$2
TOOLS="$(dirname "$0")"
PY="${PYTHON:-python}"
MASTER_PORT="${PORT:-29500}"
LAUNCHER="dist_${SCRIPT%.py}.sh"

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "error: '$PY' cannot import torch (not found, or not the environment of this project)." >&2
    echo "  Point PYTHON= at the interpreter of the environment, e.g." >&2
    echo "  PYTHON=.venv/bin/python bash tools/$LAUNCHER ..." >&2
    exit 1
fi
# The master (node rank 0) listens on PORT: fail now, not after a timeout, when it is taken.
if [ "${NODE_RANK:-0}" = 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$MASTER_PORT") 2>/dev/null; then
    echo "error: port $MASTER_PORT is in use (another distributed run on this machine?)." >&2
    echo "  Choose a free one with PORT=, e.g. PORT=$((MASTER_PORT + 1)) bash tools/$LAUNCHER ..." >&2
    exit 1
fi

# shellcheck source=tools/_first_error.sh
source "$TOOLS/_first_error.sh"
ERRORS="$(mktemp -d "${TMPDIR:-/tmp}/smt_mm_errors.XXXXXX")"
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
run_with_first_error "$ERRORS" "$PY" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$PROCS" \
    --master_port="$MASTER_PORT" \
    "$TOOLS/$SCRIPT" \
    "${@:3}" \
    --launcher pytorch
