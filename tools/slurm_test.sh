#!/usr/bin/env bash
# Testing on a Slurm cluster, one task per GPU.
#
# Usage: [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options...]
# Environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (""), PYTHON (python).
exec bash "$(dirname "$0")/_srun.sh" test.py "$1" "$2" "$3" "$4" "${@:5}"
