#!/usr/bin/env bash
# The GPU checks behind docs/benchmarks.md's GPU section, as one script for a lent CUDA machine.
#
# Usage (repository root, on the GPU machine): OUT=DIR [BUDGET_S=480] bash .dev_scripts/gpu_check.sh
#        bash .dev_scripts/gpu_check.sh --dry-run   # print the steps and the A/B plan, run nothing
#
# The machine's image has torch, torchvision, triton and CUDA but no OpenMMLab package and no
# network: the pure-Python wheels in .whl/ (mmengine, mmcv-lite, mmpretrain and what they need,
# downloaded with `pip download --python-version 3.12 ...`) are installed first. Without mmcv's
# compiled ops (RoIAlign, NMS) mmdet and mmseg models cannot load, so the Swin baseline is
# mmpretrain's Swin-T.
#
# Steps, within BUDGET_S seconds (default 480) after the install: each step gets its own limit
# and at most what is left; a step with under 20 s left is skipped; the table comes last.
#   1. the CUDA tests: both SMT paths in fp32 / fp16 / bf16 and compiled, and the Triton MHMC
#      kernels (fp64 / fp32 against the plain path, SMT with mhmc='triton' on both paths, bf16,
#      torch.compile);
#   2. the A/B stages of .dev_scripts/gpu_levers.py: SMT-S plain / fused / every mhmc lever
#      against Swin-T at 224x224 b64 and 800x1344 b2, fp32 and bf16, training step, inference,
#      peak memory; cudnn.benchmark; the top CUDA kernels of a bf16 training step; bf16
#      torch.compile of Swin-T and plain SMT-S;
#   3. one table of every stage (ratios to Swin-T and to plain SMT-S).
set -uo pipefail
OUT=${OUT:-work_dirs/gpu_check}
BUDGET_S=${BUDGET_S:-480}
LEVERS=(python3 .dev_scripts/gpu_levers.py)
# stage name and its budget in seconds (no case starts after it; `timeout` allows 60 s more)
STAGE_BUDGETS=(fp32-eager:80 bf16-eager:80 bf16-eager-cudnn-benchmark:25 bf16-compiled-224:90
    bf16-compiled-800:40)
status=0
step() { printf '\n== %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
# seconds a step may take: what it asks for, at most what is left of BUDGET_S (0: skip it)
allow() {
    local left=$((deadline - SECONDS))
    if [ "$left" -lt 20 ]; then echo 0; elif [ "$1" -lt "$left" ]; then echo "$1"; else echo "$left"; fi
}

if [ "${1:-}" = --dry-run ]; then
    echo "OUT=$OUT"
    echo "BUDGET_S=$BUDGET_S (every step below stops or is skipped when it is spent)"
    echo "1. CUDA tests (timeout 150 s): pytest -m cuda tests/test_models/test_backbones/test_smt_cuda.py" \
        "tests/test_models/test_backbones/test_mhmc_triton.py"
    for entry in "${STAGE_BUDGETS[@]}"; do
        echo "2. ${LEVERS[*]} run ${entry%%:*} --out $OUT/levers --budget-s ${entry##*:}"
    done
    echo "2. ${LEVERS[*]} profile --out $OUT/levers (timeout 45 s, after the cudnn stage)"
    echo "3. ${LEVERS[*]} table $OUT/levers"
    echo
    exec "${LEVERS[@]}" plan
fi

mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
step "install the OpenMMLab wheels"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
deadline=$((SECONDS + BUDGET_S))
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
python3 -c 'import torch, triton, smt_mm; print(torch.cuda.get_device_name(), "CUDA",
torch.version.cuda, "triton", triton.__version__); print(smt_mm.stack_summary())' \
    | tee -a "$OUT/device.txt" || exit 1

step "CUDA tests: both paths in fp32 / fp16 / bf16 and compiled; the Triton MHMC kernels"
timeout "$(allow 150)" python3 -m pytest -m cuda tests/test_models/test_backbones/test_smt_cuda.py \
    tests/test_models/test_backbones/test_mhmc_triton.py -v -p no:cacheprovider -o addopts="" \
    2>&1 | tail -30 | tee "$OUT/cuda_tests.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

for entry in "${STAGE_BUDGETS[@]}"; do
    stage=${entry%%:*} limit=$(allow $((${entry##*:} + 60)))
    step "A/B stage $stage (${limit} s at most)"
    if [ "$limit" = 0 ]; then echo "skipped: BUDGET_S spent"; status=1; continue; fi
    budget=$((limit > 90 ? limit - 60 : limit / 3))  # the last case may take a minute
    timeout "$limit" "${LEVERS[@]}" run "$stage" --out "$OUT/levers" --budget-s "$budget" 2>&1 \
        | tail -20 | tee "$OUT/levers_$stage.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
    if [ "$stage" = bf16-eager-cudnn-benchmark ] && [ "$(allow 45)" != 0 ]; then
        step "profile: top CUDA kernels of a bf16 SMT-S (plain) training step at 224x224 b64"
        timeout "$(allow 45)" "${LEVERS[@]}" profile --out "$OUT/levers" 2>&1 | tail -22
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
    fi
done

step "the table: every stage, ratios to Swin-T (mmpretrain) and to plain SMT-S"
"${LEVERS[@]}" table "$OUT/levers" | tee "$OUT/levers_table.md" || status=1
exit $status
