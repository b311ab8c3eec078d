#!/usr/bin/env bash
# Shared by slurm_train.sh and slurm_test.sh: run a tools/ script as one Slurm task per GPU.
#
# Usage: bash tools/_srun.sh SCRIPT PARTITION JOB_NAME [script arguments...]
# Environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (""), PYTHON (python).
set -x

SCRIPT=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
TOOLS="$(dirname "$0")"

# shellcheck source=tools/_first_error.sh
source "$TOOLS/_first_error.sh"
# The ranks run on other nodes: the error folder is in the current one, on the shared file system.
ERRORS="$(mktemp -d "$PWD/.smt_mm_errors.XXXXXX")"
# SRUN_ARGS is deliberately unquoted: it holds several srun options.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
run_with_first_error "$ERRORS" srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="${CPUS_PER_TASK:-5}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$TOOLS/$SCRIPT" "${@:4}" --launcher=slurm
