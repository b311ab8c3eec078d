#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU.
#
# Usage: [GPUS=8] [GPUS_PER_NODE=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR \
#            [train.py options...]
# Environment: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (""), PYTHON (python).
exec bash "$(dirname "$0")/_srun.sh" train.py "$1" "$2" "$3" --work-dir="$4" "${@:5}"
